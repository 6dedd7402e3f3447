"""Differentiable unrolled low-rank + sparse decomposition (learned ALM, after arXiv 2506.07086).

``K`` iterations of the augmented Lagrangian method of :mod:`mmaffect.ops.decomposition`, each with
its own learnable penalty ``μ_k`` and sparsity weight ``λ_k`` (kept positive by softplus):

    S_m ← shrink(X_m − L + Y_m/μ_k, λ_k/μ_k)
    A   ← (1/M) Σ_m (X_m − S_m + Y_m/μ_k)
    L   ← SVT(A, 1/(M μ_k))
    Y_m ← Y_m + μ_k (X_m − L − S_m)

starting from ``L = S = Y = 0``, so that the decomposition can be trained end to end (the paper's
first open question). The SVT is ``F(AAᵀ) A`` with the spectral function
``F(G) = Q h(Λ) Qᵀ``, ``h(λ) = max(1 − τ/√λ, 0)``, whose backward pass uses divided differences
(Daleckii–Krein), so gradients stay finite when singular values repeat.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["UnrolledDecomposition", "spectral_shrink"]


def _h(lam: Tensor, tau: Tensor) -> Tensor:
    """``h(λ) = max(1 − τ/√λ, 0)``; ``tau`` ``[b]`` broadcast over ``λ`` ``[b, k]``."""
    t = tau.unsqueeze(-1)
    return torch.where(lam > t * t, 1.0 - t / lam.clamp_min(torch.finfo(lam.dtype).tiny).sqrt(), 0.0)


def _dh(lam: Tensor, tau: Tensor) -> tuple[Tensor, Tensor]:
    """``(∂h/∂λ, ∂h/∂τ) = (τ/(2λ^{3/2}), −1/√λ)`` on ``λ > τ²``, zero elsewhere."""
    t = tau.unsqueeze(-1)
    active = lam > t * t
    inv_sqrt = lam.clamp_min(torch.finfo(lam.dtype).tiny).rsqrt()
    d_lam = torch.where(active, 0.5 * t * inv_sqrt / lam.clamp_min(torch.finfo(lam.dtype).tiny), 0.0)
    d_tau = torch.where(active, -inv_sqrt, 0.0)
    return d_lam, d_tau


class _SpectralShrink(torch.autograd.Function):
    """``P = Q h(Λ) Qᵀ`` for symmetric PSD ``G = QΛQᵀ`` ``[b, k, k]`` and thresholds ``τ`` ``[b]``.

    Backward (Daleckii–Krein): ``dG = Q (Φ ∘ Qᵀ sym(dP) Q) Qᵀ`` with ``Φ_ij = (h_i − h_j)/(λ_i − λ_j)``,
    replaced by ``h'((λ_i + λ_j)/2)`` when ``λ_i ≈ λ_j``; ``dτ = Σ_i (Qᵀ dP Q)_ii ∂h/∂τ(λ_i)``.
    """

    @staticmethod
    def forward(ctx: Any, g: Tensor, tau: Tensor) -> Tensor:
        lam, q = torch.linalg.eigh(g)
        h = _h(lam, tau)
        ctx.save_for_backward(lam, q, h, tau)
        return (q * h.unsqueeze(-2)) @ q.mT

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
        lam, q, h, tau = ctx.saved_tensors
        gq = q.mT @ (0.5 * (grad + grad.mT)) @ q
        d_lam, d_tau = _dh(lam, tau)
        diff = lam.unsqueeze(-1) - lam.unsqueeze(-2)
        scale = lam.abs().amax(-1, keepdim=True).unsqueeze(-1).clamp_min(torch.finfo(lam.dtype).tiny)
        close = diff.abs() <= 1e-9 * scale
        mid = 0.5 * (lam.unsqueeze(-1) + lam.unsqueeze(-2))
        d_mid, _ = _dh(mid.flatten(-2), tau)
        phi = torch.where(close, d_mid.view_as(mid),
                          (h.unsqueeze(-1) - h.unsqueeze(-2)) / torch.where(close, 1.0, diff))
        grad_g = q @ (phi * gq) @ q.mT
        grad_tau = (torch.diagonal(gq, dim1=-2, dim2=-1) * d_tau).sum(-1)
        return grad_g, grad_tau


def spectral_shrink(g: Tensor, tau: Tensor) -> Tensor:
    """Differentiable ``Q max(1 − τ/√Λ, 0) Qᵀ`` of Gram matrices ``g`` ``[b, k, k]`` (``τ`` ``[b]``)."""
    return _SpectralShrink.apply(g, tau)


def _svt(a: Tensor, tau: Tensor) -> Tensor:
    """Differentiable ``SVT(A, τ) = F(AAᵀ) A`` (or ``A F(AᵀA)``), computed in float64."""
    a64 = a.to(torch.float64)
    tau64 = tau.to(torch.float64)
    if a.shape[-2] <= a.shape[-1]:
        out = spectral_shrink(a64 @ a64.mT, tau64) @ a64
    else:
        out = a64 @ spectral_shrink(a64.mT @ a64, tau64)
    return out.to(a.dtype)


def _inv_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class UnrolledDecomposition(nn.Module):
    """``K`` unrolled ALM iterations for ``X`` ``[B, M, n, c]`` → ``(L [B, n, c], S [B, M, n, c])``.

    Per-iteration parameters ``λ_k = softplus(a_k)`` and ``μ_k = softplus(b_k)``, initialised at
    ``lam_init`` and ``mu_init · rho_init^k`` (the inexact-ALM schedule). ``svt_compat`` thresholds at
    ``1/μ_k`` (the official code) instead of ``1/(M μ_k)``.
    """

    def __init__(
        self,
        num_iters: int = 10,
        *,
        lam_init: float = 0.125,
        mu_init: float = 1.0,
        rho_init: float = 1.5,
        svt_compat: bool = False,
    ) -> None:
        super().__init__()
        if num_iters < 1:
            raise ValueError(f"num_iters must be >= 1, got {num_iters}")
        if not (lam_init > 0 and mu_init > 0 and rho_init > 0):
            raise ValueError("lam_init, mu_init and rho_init must be > 0")
        self.num_iters = num_iters
        self.svt_compat = svt_compat
        mus = [mu_init * rho_init**k for k in range(num_iters)]
        self.raw_lam = nn.Parameter(torch.full((num_iters,), _inv_softplus(lam_init)))
        self.raw_mu = nn.Parameter(torch.tensor([_inv_softplus(m) for m in mus]))

    @property
    def lam(self) -> Tensor:
        """``λ_k`` ``[K]``."""
        return F.softplus(self.raw_lam)

    @property
    def mu(self) -> Tensor:
        """``μ_k`` ``[K]``."""
        return F.softplus(self.raw_mu)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.ndim != 4 or x.shape[1] < 2:
            raise ValueError(f"UnrolledDecomposition expects X [B, M, n, c] with M >= 2, got shape {tuple(x.shape)}")
        b, m = x.shape[:2]
        lam = self.lam.to(x.dtype)
        mu = self.mu.to(x.dtype)
        low = x.new_zeros(b, *x.shape[2:])
        sparse = torch.zeros_like(x)
        dual = torch.zeros_like(x)
        for k in range(self.num_iters):
            v = x - low.unsqueeze(1) + dual / mu[k]
            sparse = torch.sign(v) * torch.relu(v.abs() - lam[k] / mu[k])
            a = (x - sparse + dual / mu[k]).mean(dim=1)
            tau = (1.0 if self.svt_compat else 1.0 / m) / mu[k]
            low = _svt(a, tau.expand(b))
            dual = dual + mu[k] * (x - low.unsqueeze(1) - sparse)
        return low, sparse
