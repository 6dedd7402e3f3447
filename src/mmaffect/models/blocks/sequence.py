"""Per-modality sequence encoders and MLP heads (masked pooling is :func:`mmaffect.ops.pooling.masked_mean`)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from mmaffect.ops.pooling import key_padding, masked_mean

__all__ = ["SequenceEncoder", "masked_mean", "mlp"]


def mlp(in_dim: int, hidden: int, out_dim: int, *, layers: int = 2, dropout: float = 0.0) -> nn.Sequential:
    """``layers`` linear layers with ReLU and dropout between them."""
    mods: list[nn.Module] = []
    d = in_dim
    for _ in range(layers - 1):
        mods += [nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout)]
        d = hidden
    mods.append(nn.Linear(d, out_dim))
    return nn.Sequential(*mods)


class SequenceEncoder(nn.Module):
    """``[B, T, D]`` + mask -> pooled ``[B, H]`` (and the per-step states ``[B, T, H]``).

    ``kind``: ``mean`` (linear projection then masked mean), ``gru`` (bidirectional GRU then masked
    mean) or ``transformer`` (one encoder layer then masked mean).
    """

    def __init__(
        self,
        in_dim: int,
        hidden: int,
        *,
        kind: Literal["mean", "gru", "transformer"] = "mean",
        dropout: float = 0.0,
        input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.input_dropout = nn.Dropout(input_dropout)
        self.project = nn.Linear(in_dim, hidden)
        if kind == "gru":
            self.seq = nn.GRU(hidden, hidden // 2, batch_first=True, bidirectional=True)
        elif kind == "transformer":
            self.seq = nn.TransformerEncoderLayer(hidden, nhead=max(1, hidden // 32), dim_feedforward=2 * hidden,
                                                  dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.project(self.input_dropout(x)))
        if self.kind == "gru":
            h, _ = self.seq(h)
        elif self.kind == "transformer":
            h = self.seq(h, src_key_padding_mask=key_padding(mask))
        h = self.dropout(h)
        return masked_mean(h, mask), h
