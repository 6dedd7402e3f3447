"""Masked pooling over time."""

from __future__ import annotations

import torch

__all__ = ["masked_mean"]


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``Σ_t m_t x_t / max(Σ_t m_t, 1)``: the mean over time of ``x`` ``[B, T, D]`` where ``mask`` ``[B, T]``
    is True; a row that is all padding gives 0."""
    w = mask.to(x.dtype).unsqueeze(-1)
    return (x * w).sum(1) / w.sum(1).clamp_min(1.0)
