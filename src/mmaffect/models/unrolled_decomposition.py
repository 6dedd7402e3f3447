"""Differentiable unrolled low-rank + sparse decomposition (learned ALM, after arXiv 2506.07086).

``K`` iterations of the augmented Lagrangian method of :mod:`mmaffect.ops.decomposition`, each with
its own learnable penalty ``μ_k`` and sparsity weight ``λ_k`` (kept positive by softplus):

    S_m ← shrink(X_m − L + Y_m/μ_k, λ_k/μ_k)
    A   ← (1/M) Σ_m (X_m − S_m + Y_m/μ_k)
    L   ← SVT(A, 1/(M μ_k))
    Y_m ← Y_m + μ_k (X_m − L − S_m)

starting from ``L = S = Y = 0``, so that the decomposition can be trained end to end (the paper's
first open question). The shrinkage operators (the differentiable SVT ``F(AAᵀ) A`` and the soft
threshold) are in :mod:`mmaffect.ops.shrinkage`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmaffect.ops.shrinkage import differentiable_svt, soft_threshold, spectral_shrink

__all__ = ["UnrolledDecomposition", "spectral_shrink"]


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
            sparse = soft_threshold(v, lam[k] / mu[k])
            a = (x - sparse + dual / mu[k]).mean(dim=1)
            tau = (1.0 if self.svt_compat else 1.0 / m) / mu[k]
            low = differentiable_svt(a, tau.expand(b))
            dual = dual + mu[k] * (x - low.unsqueeze(1) - sparse)
        return low, sparse
