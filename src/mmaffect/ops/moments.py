"""Distribution matching between two batches of features: Gaussian-kernel MMD and moment matching.

- ``mmd(x, y)``: the biased estimate of the squared maximum mean discrepancy (Gretton et al., 2012)
  ``MMD² = mean_{i,i'} k(x_i, x_i') + mean_{j,j'} k(y_j, y_j') − 2 mean_{i,j} k(x_i, y_j)`` with
  ``k(a, b) = exp(−||a − b||² / (2 h))`` (``h`` = ``bandwidth``, as DecAlign's release writes it).
- ``feature_moments(x)``: mean ``μ = mean_n x_n``; covariance ``Σ = Σ_n (x_n − μ)(x_n − μ)ᵀ / max(N − 1, 1)``;
  per-dimension skewness ``γ_d = mean_n (x_nd − μ_d)³ / max(mean_n (x_nd − μ_d)², eps)^{3/2}``.
- ``moment_matching_loss(x, y) = MSE(μ_x, μ_y) + MSE(Σ_x, Σ_y) + MSE(γ_x, γ_y)`` (element means).

Used by DecAlign's homogeneous alignment (Qian et al., ICLR 2026). The first public release of DecAlign
summed the squared differences of (mean, per-dimension variance, skewness); the current release,
followed here, compares (mean, full covariance, skewness) by element means (MSE).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = ["Moments", "feature_moments", "mmd", "moment_matching_loss"]

#: Floor on the per-dimension variance in the skewness denominator (as the release).
SKEW_EPS = 1e-6


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``||a_i − b_j||²`` as ``[N_a, N_b]``, from explicit differences (exact 0 on identical rows)."""
    return (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)


def mmd(x: torch.Tensor, y: torch.Tensor, bandwidth: float = 1.0) -> torch.Tensor:
    """Biased ``MMD²`` between the rows of ``x`` ``[N, D]`` and ``y`` ``[M, D]``, kernel ``exp(−||a−b||²/(2h))``."""
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"mmd: x and y must be [N, D] and [M, D], got {tuple(x.shape)} and {tuple(y.shape)}")
    if bandwidth <= 0:
        raise ValueError(f"mmd: bandwidth must be > 0, got {bandwidth}")
    gamma = 1.0 / (2.0 * bandwidth)
    k_xx = torch.exp(-gamma * _sq_dists(x, x)).mean()
    k_yy = torch.exp(-gamma * _sq_dists(y, y)).mean()
    k_xy = torch.exp(-gamma * _sq_dists(x, y)).mean()
    return k_xx + k_yy - 2.0 * k_xy


class Moments(NamedTuple):
    """``mean`` ``[D]``, ``covariance`` ``[D, D]``, ``skewness`` ``[D]``."""

    mean: torch.Tensor
    covariance: torch.Tensor
    skewness: torch.Tensor


def feature_moments(x: torch.Tensor, eps: float = SKEW_EPS) -> Moments:
    """Mean, unbiased covariance (denominator ``max(N−1, 1)``) and standardised third moment of ``x`` ``[N, D]``."""
    if x.dim() != 2:
        raise ValueError(f"feature_moments: x must be [N, D], got shape {tuple(x.shape)}")
    mean = x.mean(0)
    centred = x - mean
    covariance = centred.t().matmul(centred) / max(x.shape[0] - 1, 1)
    variance = centred.pow(2).mean(0).clamp_min(eps)
    skewness = centred.pow(3).mean(0) / variance.pow(1.5)
    return Moments(mean, covariance, skewness)


def moment_matching_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``MSE(μ_x, μ_y) + MSE(Σ_x, Σ_y) + MSE(γ_x, γ_y)`` between the moments of ``x`` and ``y``."""
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"moment_matching_loss: x and y must be [N, D] and [M, D], got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    mx, my = feature_moments(x), feature_moments(y)
    return (F.mse_loss(mx.mean, my.mean) + F.mse_loss(mx.covariance, my.covariance)
            + F.mse_loss(mx.skewness, my.skewness))
