"""Shrinkage operators of low-rank + sparse decomposition, differentiable for unrolled solvers.

- soft threshold (the proximal operator of ``τ‖·‖₁``): ``shrink(v, τ) = sign(v) max(|v| − τ, 0)``;
- singular-value threshold (the proximal operator of ``τ‖·‖_*``): ``SVT(A, τ) = U max(Σ − τ, 0) Vᵀ``
  (Cai, Candès & Shen, SIAM J. Optim. 2010), written as ``F(AAᵀ) A`` with the spectral function
  ``F(G) = Q h(Λ) Qᵀ``, ``h(λ) = max(1 − τ/√λ, 0)`` (since ``σ = √λ``). Its backward pass uses divided
  differences (Daleckii–Krein), so gradients stay finite when singular values repeat, where the
  gradient of an SVD is not defined.

Used by the learned ALM of :mod:`mmaffect.models.unrolled_decomposition` (after arXiv 2506.07086).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["differentiable_svt", "soft_threshold", "spectral_shrink"]


def soft_threshold(v: Tensor, tau: Tensor | float) -> Tensor:
    """``sign(v) max(|v| − τ, 0)`` elementwise (``τ`` broadcast)."""
    return torch.sign(v) * torch.relu(v.abs() - tau)


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


def differentiable_svt(a: Tensor, tau: Tensor) -> Tensor:
    """Differentiable ``SVT(A, τ) = U max(Σ − τ, 0) Vᵀ = F(AAᵀ) A`` (or ``A F(AᵀA)``) of ``a`` ``[b, n, c]``
    with thresholds ``τ`` ``[b]``, computed in float64 and returned in ``a``'s dtype."""
    a64 = a.to(torch.float64)
    tau64 = tau.to(torch.float64)
    if a.shape[-2] <= a.shape[-1]:
        out = spectral_shrink(a64 @ a64.mT, tau64) @ a64
    else:
        out = a64 @ spectral_shrink(a64.mT @ a64, tau64)
    return out.to(a.dtype)
