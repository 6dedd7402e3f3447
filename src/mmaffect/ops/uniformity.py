"""Uniformity of embeddings on the unit hypersphere (Wang & Isola, ICML 2020)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["uniformity"]


def uniformity(z: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """``log mean_{i≠j} exp(−t ||ẑ_i − ẑ_j||²)`` over the rows of ``z`` ``[N, D]``, ``ẑ = z / ||z||``.

    ``||ẑ_i − ẑ_j||² = 2 − 2 <ẑ_i, ẑ_j>``; evaluated with ``logsumexp`` over the ``N(N−1)`` ordered
    off-diagonal pairs (the same mean as over unordered pairs). Lower is more uniform; needs ``N ≥ 2``.
    """
    if z.ndim != 2:
        raise ValueError(f"z must be [N, D], got shape {tuple(z.shape)}")
    n = z.shape[0]
    if n < 2:
        raise ValueError(f"uniformity needs at least 2 rows, got {n}")
    zn = F.normalize(z, dim=-1)
    sq = (2.0 - 2.0 * zn @ zn.T).clamp_min(0.0)
    off = ~torch.eye(n, dtype=torch.bool, device=z.device)
    return torch.logsumexp(-t * sq[off], dim=0) - math.log(n * (n - 1))
