"""Masked pooling over time."""

from __future__ import annotations

import torch

__all__ = ["masked_mean", "key_padding"]


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``Σ_t m_t x_t / max(Σ_t m_t, 1)``: the mean over time of ``x`` ``[B, T, D]`` where ``mask`` ``[B, T]``
    is True; a row that is all padding gives 0."""
    keep = mask.unsqueeze(-1)
    total = torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device)).sum(1)
    return total / keep.to(x.dtype).sum(1).clamp_min(1.0)


def key_padding(mask: torch.Tensor) -> torch.Tensor:
    """The ``key_padding_mask`` (True = ignore) of attention over a sequence whose real steps are ``mask``
    ``[B, T]`` (True = real step). A row with no real step (a clip with no face, a failed file stored
    with length 0) would make every attention weight ``softmax(-inf, ..., -inf)`` = NaN; such a row attends
    to all its (padding) steps instead, which gives a finite output that pooling with ``mask`` then
    ignores. Rows with at least one real step are unchanged."""
    padding = ~mask.bool()
    empty = padding.all(dim=1, keepdim=True)
    return padding & ~empty
