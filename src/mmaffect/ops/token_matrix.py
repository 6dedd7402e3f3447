"""Bring variable-length token matrices to a common ``[n, c]`` shape (Representation Decomposition inputs).

The joint low-rank + sparse decomposition (arXiv 2506.07086) needs the ``M`` modality matrices of a
sample to have the same shape. The paper's recipe (CLIP ViT-B/32: 49 patch tokens, projected
width 512) is

- columns: average groups of adjacent dimensions, ``x'_j = mean_{d ∈ G_j} x_d`` with
  ``G_j = [⌊jD/c⌋, ⌈(j+1)D/c⌉)`` (exact groups of ``D/c`` dimensions when ``c`` divides ``D``; this is
  ``adaptive_avg_pool1d``);
- rows: text tokens repeated (cyclically, ``x'_r = x_{r mod ℓ}`` over the ``ℓ`` real tokens) or
  truncated to ``n``; ``pad`` instead keeps the first ``min(ℓ, n)`` rows and fills the rest with 0.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

RowFit = Literal["repeat", "pad"]

__all__ = ["RowFit", "average_columns", "fit_rows", "to_token_matrix"]


def average_columns(x: Tensor, c: int) -> Tensor:
    """``[..., D] -> [..., c]`` by averaging groups of adjacent dimensions (identity when ``D == c``)."""
    if c < 1:
        raise ValueError(f"the number of columns must be >= 1, got {c}")
    d = x.shape[-1]
    if d == c:
        return x
    if d % c == 0:
        return x.reshape(*x.shape[:-1], c, d // c).mean(-1)
    flat = x.reshape(-1, 1, d)
    return F.adaptive_avg_pool1d(flat, c).reshape(*x.shape[:-1], c)


def fit_rows(x: Tensor, lengths: Tensor | None, n: int, mode: RowFit = "repeat") -> Tensor:
    """``[B, T, D]`` with ``lengths`` ``[B]`` real rows -> ``[B, n, D]``.

    ``repeat``: row ``r`` is real row ``r mod ℓ`` (so a sample with ``ℓ ≥ n`` is truncated to its first
    ``n`` rows); ``pad``: the first ``min(ℓ, n)`` real rows, then zeros. A sample with ``ℓ = 0`` gives zeros.
    ``lengths=None`` means every row is real.
    """
    if x.ndim != 3:
        raise ValueError(f"fit_rows expects [B, T, D], got shape {tuple(x.shape)}")
    if n < 1:
        raise ValueError(f"the number of rows must be >= 1, got {n}")
    b, t, _ = x.shape
    if lengths is None:
        lengths = torch.full((b,), t, dtype=torch.long, device=x.device)
    lengths = lengths.to(device=x.device, dtype=torch.long).clamp(0, t)
    rows = torch.arange(n, device=x.device)
    if mode == "repeat":
        index = rows[None, :] % lengths.clamp_min(1)[:, None]
        keep = (lengths > 0)[:, None].expand(b, n)
    elif mode == "pad":
        index = rows.clamp_max(max(t - 1, 0))[None, :].expand(b, n)
        keep = rows[None, :] < lengths[:, None]
    else:
        raise ValueError(f"unknown row fit {mode!r}; choose repeat or pad")
    if t == 0:
        return x.new_zeros(b, n, x.shape[-1])
    out = torch.gather(x, 1, index[..., None].expand(b, n, x.shape[-1]))
    return out * keep[..., None].to(x.dtype)


def to_token_matrix(x: Tensor, lengths: Tensor | None, n: int, c: int, mode: RowFit = "repeat") -> Tensor:
    """:func:`average_columns` to ``c`` then :func:`fit_rows` to ``n``: ``[B, T, D] -> [B, n, c]``."""
    return fit_rows(average_columns(x, c), lengths, n, mode)
