"""Differentiable diagonal-covariance Gaussian mixture fitted to a batch by a few EM steps.

Model: ``p(x) = Σ_k π_k N(x | μ_k, diag(σ²_k))``. One EM step on ``x ∈ R^{N×D}``:

- E: ``γ_nk = π_k N(x_n | μ_k, σ²_k) / Σ_j π_j N(x_n | μ_j, σ²_j)`` (a softmax of the log joint);
- M: ``N_k = max(Σ_n γ_nk, 1e-6)``, ``π_k = N_k / N``, ``μ_k = Σ_n γ_nk x_n / N_k``,
  ``σ²_k = max(Σ_n γ_nk (x_n − μ_k)² / N_k, var_floor)``.

Initialisation as in the DecAlign release (Qian et al., ICLR 2026): ``μ`` = the batch rows at indices
``round(linspace(0, N−1, K))``, every ``σ²_k`` = the (biased) per-dimension batch variance floored at
``var_floor``, ``π`` uniform. The posteriors returned are those of the final parameters. Every step is
plain tensor algebra, so gradients flow from the returned parameters and posteriors to ``x``.

Differences from the release: ``K > N`` is an error here (the release tiles the batch to make ``K``
initial means, which duplicates prototypes); the M-step variance is the centred
``Σ γ (x − μ)² / N_k`` rather than ``Σ γ x² / N_k − μ²`` (equal in exact arithmetic, no cancellation).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = ["GMMResult", "diagonal_gaussian_log_joint", "fit_diagonal_gmm"]

#: Floor on the soft counts ``N_k`` of the M-step (as the release).
COUNT_FLOOR = 1e-6
#: Floor on the mixture weights before their logarithm (as the release).
WEIGHT_FLOOR = 1e-8


class GMMResult(NamedTuple):
    """A fitted mixture: ``means``/``variances`` ``[K, D]``, ``weights`` ``[K]``, ``posteriors`` ``[N, K]``."""

    means: torch.Tensor
    variances: torch.Tensor
    weights: torch.Tensor
    posteriors: torch.Tensor


def diagonal_gaussian_log_joint(
    x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, variances: torch.Tensor
) -> torch.Tensor:
    """``log π_k + log N(x_n | μ_k, diag σ²_k)`` as ``[N, K]``:
    ``log π_k − ½ (Σ_d (x_nd − μ_kd)² / σ²_kd + Σ_d log σ²_kd + D log 2π)``."""
    diff = x.unsqueeze(1) - means.unsqueeze(0)
    mahalanobis = (diff.pow(2) / variances.unsqueeze(0)).sum(-1)
    log_det = variances.log().sum(-1).unsqueeze(0)
    log_norm = x.shape[1] * math.log(2.0 * math.pi)
    return weights.clamp_min(WEIGHT_FLOOR).log().unsqueeze(0) - 0.5 * (mahalanobis + log_det + log_norm)


def fit_diagonal_gmm(x: torch.Tensor, k: int, n_iter: int = 5, var_floor: float = 1e-4) -> GMMResult:
    """Fit a ``k``-component diagonal GMM to the rows of ``x`` ``[N, D]`` by ``n_iter`` EM steps (see module)."""
    if x.dim() != 2:
        raise ValueError(f"fit_diagonal_gmm: x must be [N, D], got shape {tuple(x.shape)}")
    n, dim = x.shape
    if k < 1:
        raise ValueError(f"fit_diagonal_gmm: need at least 1 prototype, got K={k}")
    if k > n:
        raise ValueError(f"fit_diagonal_gmm: K={k} prototypes but only N={n} samples in the batch; "
                         "use a batch of at least K samples or fewer prototypes")
    if n_iter < 0:
        raise ValueError(f"fit_diagonal_gmm: n_iter must be >= 0, got {n_iter}")
    if var_floor <= 0:
        raise ValueError(f"fit_diagonal_gmm: var_floor must be > 0, got {var_floor}")

    index = torch.linspace(0, n - 1, steps=k, device=x.device).round().long()
    means = x.index_select(0, index)
    variances = x.var(dim=0, unbiased=False).clamp_min(var_floor).unsqueeze(0).expand(k, dim)
    weights = x.new_full((k,), 1.0 / k)
    for _ in range(n_iter):
        gamma = torch.softmax(diagonal_gaussian_log_joint(x, weights, means, variances), dim=1)
        counts = gamma.sum(0).clamp_min(COUNT_FLOOR)
        weights = counts / n
        means = gamma.t().matmul(x) / counts.unsqueeze(1)
        centred_sq = (x.unsqueeze(1) - means.unsqueeze(0)).pow(2)
        variances = ((gamma.unsqueeze(-1) * centred_sq).sum(0) / counts.unsqueeze(1)).clamp_min(var_floor)
    posteriors = torch.softmax(diagonal_gaussian_log_joint(x, weights, means, variances), dim=1)
    return GMMResult(means, variances, weights, posteriors)
