"""Attention fusion of parts: one learned score per part, softmax over parts, weighted sum (rd, arXiv 2506.07086)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["AttentionFusion"]


class AttentionFusion(nn.Module):
    """``α = softmax_P(wᵀ vec(P) + b)``, ``R = Σ_P α_P P`` over the parts ``P`` ``[B, K, n, c]``.

    ``shared=True``: one ``(w, b)`` for every part (``n c + 1`` parameters); otherwise one per part
    (``K (n c + 1)``).
    """

    def __init__(self, size: int, parts: int, *, shared: bool = True) -> None:
        super().__init__()
        self.shared = shared
        self.scorers = nn.ModuleList(nn.Linear(size, 1) for _ in range(1 if shared else parts))

    def forward(self, parts: Tensor) -> tuple[Tensor, Tensor]:
        flat = parts.flatten(2)
        if self.shared:
            scores = self.scorers[0](flat).squeeze(-1)
        else:
            scores = torch.cat([scorer(flat[:, k]) for k, scorer in enumerate(self.scorers)], dim=-1)
        alpha = torch.softmax(scores, dim=-1)
        fused = (alpha[..., None, None] * parts).sum(1)
        return fused, alpha
