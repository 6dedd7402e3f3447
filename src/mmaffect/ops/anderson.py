"""Anderson acceleration of a batch of fixed-point iterations ``ζ ← T(ζ)`` (one per sample).

Anderson (1965); the form of Walker & Ni (2011), "Anderson acceleration for fixed-point iterations",
SIAM J. Numer. Anal. 49(4). With the last ``k ≤ memory + 1`` iterates ``ζ_i``, their images
``f_i = T(ζ_i)`` and residuals ``g_i = f_i − ζ_i``, the next iterate is the affine combination of the
images whose combined residual is smallest:

    α = argmin_{Σ α_i = 1} ||Σ_i α_i g_i||²  =  A⁻¹1 / (1ᵀA⁻¹1),     A_ij = <g_i, g_j> + δ_ij ε tr(A)/k
    ζ⁺ = Σ_i α_i f_i

(equivalent to the "type II" least-squares form on differences). ``A`` is kept up to date one row
per push (``memory + 1`` inner products of length ``N``), so a step costs ``O(memory · N)`` per sample
beside the small solve. Safeguarding (when to accept ``ζ⁺``) and restarts are the caller's: a
sample's history is cleared by :meth:`AndersonHistory.reset`. No maintained PyTorch library offers
a batched, per-sample-masked Anderson step, hence this small module.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["AndersonHistory"]


class AndersonHistory:
    """Ring buffers of the last ``memory + 1`` images and residuals of ``b`` iterations in ``R^N``."""

    def __init__(self, b: int, dim: int, memory: int, *, dtype: torch.dtype, device: torch.device | str,
                 regularization: float = 1e-10) -> None:
        if memory < 1:
            raise ValueError(f"Anderson memory must be >= 1, got {memory}")
        slots = memory + 1
        self.slots, self.regularization = slots, regularization
        self.images = torch.zeros(b, slots, dim, dtype=dtype, device=device)
        self.residuals = torch.zeros(b, slots, dim, dtype=dtype, device=device)
        self.gram = torch.zeros(b, slots, slots, dtype=dtype, device=device)
        self.count = torch.zeros(b, dtype=torch.int64, device=device)

    def select(self, keep: Tensor) -> None:
        """Keep the rows ``keep`` (a bool mask or indices) of every buffer."""
        self.images, self.residuals = self.images[keep], self.residuals[keep]
        self.gram, self.count = self.gram[keep], self.count[keep]

    def reset(self, mask: Tensor) -> None:
        """Forget the history of the samples in ``mask``."""
        self.count = torch.where(mask, 0, self.count)

    def push(self, image: Tensor, residual: Tensor) -> None:
        """Add ``f = T(ζ)`` and ``g = f − ζ`` (``[b, N]`` each) of every sample."""
        rows = torch.arange(self.count.shape[0], device=self.count.device)
        slot = self.count % self.slots
        self.images[rows, slot] = image
        self.residuals[rows, slot] = residual
        inner = torch.linalg.vecdot(self.residuals, residual.unsqueeze(1))  # [b, slots]: <g_j, g_new>
        self.gram[rows, slot, :] = inner
        self.gram[rows, :, slot] = inner
        self.count += 1

    def step(self) -> tuple[Tensor, Tensor]:
        """The accelerated points ``[b, N]`` and a bool mask of the samples with at least two entries
        (the others get their newest image, the plain step)."""
        k = self.count.clamp(max=self.slots)
        valid = torch.arange(self.slots, device=k.device).view(1, -1) < k.view(-1, 1)
        a = self.gram * (valid.unsqueeze(-1) & valid.unsqueeze(-2))
        trace = a.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(torch.finfo(a.dtype).tiny)
        diag = torch.where(valid, self.regularization * trace.unsqueeze(-1) / k.clamp_min(1).unsqueeze(-1),
                           torch.ones_like(trace).unsqueeze(-1))
        a = a + torch.diag_embed(diag)
        ones = valid.to(a.dtype).unsqueeze(-1)
        y, info = torch.linalg.solve_ex(a, ones)
        alpha = y / (ones.mT @ y).clamp_min(torch.finfo(a.dtype).tiny)  # zero on invalid slots
        # a singular system (all residuals zero, or exactly dependent without regularization): plain step
        finite = torch.isfinite(alpha).all(dim=-2) & (info == 0).unsqueeze(-1)
        if not bool(finite.all()):
            newest = torch.nn.functional.one_hot((self.count - 1).clamp_min(0) % self.slots, self.slots)
            alpha = torch.where(finite.unsqueeze(-1), alpha, newest.to(alpha.dtype).unsqueeze(-1))
        point = (alpha.mT @ self.images).squeeze(-2)
        return point, (k >= 2) & finite.squeeze(-1)
