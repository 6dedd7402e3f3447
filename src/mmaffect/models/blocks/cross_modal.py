"""Cross-modal attention layers: a target sequence attends to a context sequence of another modality.

- :class:`CrossModalBlock` (MulT, Tsai et al., ACL 2019): pre-norm, ``x ← x + MHA(LN(x), LN(y), LN(y))``
  then ``x ← x + FFN(LN(x))``.
- :class:`CrossModalLayer` / :class:`CrossModalEncoder` (DecAlign's release): post-norm residual layers,
  inputs scaled by ``sqrt(d)``, embedding dropout on the query.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mmaffect.ops.pooling import key_padding

__all__ = ["CrossModalBlock", "CrossModalEncoder", "CrossModalLayer"]


class CrossModalBlock(nn.Module):
    """Pre-norm cross-modal attention: ``x <- x + MHA(LN(x), LN(y), LN(y))``, then a feed-forward."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm_q, self.norm_kv, self.norm_ff = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor, y: torch.Tensor, y_mask: torch.Tensor) -> torch.Tensor:
        kv = self.norm_kv(y)
        x = x + self.attention(self.norm_q(x), kv, kv, key_padding_mask=key_padding(y_mask), need_weights=False)[0]
        return x + self.ff(self.norm_ff(x))


class CrossModalLayer(nn.Module):
    """``x ← LN(x + Drop(MHA(x, ctx, ctx)))``; ``x ← LN(x + Drop(W_2 Drop(ReLU(W_1 x))))`` (post-norm, FFN 4d)."""

    def __init__(self, dim: int, heads: int, attn_dropout: float, relu_dropout: float, res_dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=attn_dropout, batch_first=True)
        self.norm_attn = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        self.norm_ffn = nn.LayerNorm(dim)
        self.relu_dropout = nn.Dropout(relu_dropout)
        self.res_dropout = nn.Dropout(res_dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_padding: torch.Tensor) -> torch.Tensor:
        h, _ = self.attn(x, context, context, key_padding_mask=context_padding, need_weights=False)
        x = self.norm_attn(x + self.res_dropout(h))
        h = self.fc2(self.relu_dropout(F.relu(self.fc1(x))))
        return self.norm_ffn(x + self.res_dropout(h))


class CrossModalEncoder(nn.Module):
    """``layers`` cross-attention layers; the query and context are scaled by ``sqrt(d)`` first.

    ``context_mask`` ``[B, S]`` is True at real context steps; rows with no real step attend to all steps.
    """

    def __init__(self, dim: int, heads: int, layers: int, *, attn_dropout: float, relu_dropout: float,
                 res_dropout: float, embed_dropout: float) -> None:
        super().__init__()
        self.scale = math.sqrt(dim)
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.layers = nn.ModuleList(
            CrossModalLayer(dim, heads, attn_dropout, relu_dropout, res_dropout) for _ in range(layers)
        )

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor) -> torch.Tensor:
        x = self.embed_dropout(self.scale * x)
        context = self.scale * context
        padding = key_padding(context_mask)
        for layer in self.layers:
            x = layer(x, context, padding)
        return x
