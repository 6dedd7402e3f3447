"""PMRL: Principled Multimodal Representation Learning (Liu et al., arXiv 2507.17343).

Per modality ``m``: sequence encoder -> pooled state -> projection to a common ``d``: ``p_m`` ``[B, d]``
(exposed unnormalised as ``pooled[m]``). Per sample, the normalised ``ẑ_m = p_m / ||p_m||`` form
``Z ∈ R^{d×M}`` with singular values ``σ_1 ≥ … ≥ σ_M`` and leading left singular vector ``u_1``
(sign fixed by ``Σ_m <u_1, ẑ_m> ≥ 0``). The head reads ``u_1`` (``head_input="leading"``), the
concatenated ``p_m`` (``"pooled"``) or both. Alignment is trained by the objectives
``spectral_alignment`` (``CE(σ/τ1, 0)``) and ``leading_direction_contrast`` (InfoNCE on ``u_1``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from mmaffect.models.base import AffectModel, ModelConfig
from mmaffect.models.blocks import SequenceEncoder, mlp
from mmaffect.ops.spectral import spectral_decomposition
from mmaffect.types import Batch, ModelOutput, TaskSpec


class PMRL(AffectModel):
    """Per-modality encoders projected to a common ``d``; head on the leading direction and/or the pooled."""

    class Config(ModelConfig):
        hidden: int = 64
        embed_dim: int | None = None  # the common d; None = hidden
        encoder: Literal["mean", "gru", "transformer"] = "mean"
        dropout: float = 0.1
        input_dropout: float = 0.0
        projection_layers: int = 1
        head_input: Literal["leading", "pooled", "both"] = "both"
        head_layers: int = 2

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: "PMRL.Config") -> None:
        super().__init__(dims, task, config)
        if config.projection_layers < 1 or config.head_layers < 1:
            raise ValueError("pmrl: projection_layers and head_layers must be >= 1")
        h = config.hidden
        d = config.embed_dim or h
        self.embed_dim = d
        self.encoders = nn.ModuleDict({
            m: SequenceEncoder(dim, h, kind=config.encoder, dropout=config.dropout, input_dropout=config.input_dropout)
            for m, dim in dims.items()
        })
        self.projections = nn.ModuleDict({
            m: mlp(h, h, d, layers=config.projection_layers, dropout=config.dropout) for m in dims
        })
        fused_dim = {"leading": d, "pooled": d * len(dims), "both": d * (len(dims) + 1)}[config.head_input]
        self.head = mlp(fused_dim, h, task.output_dim, layers=config.head_layers, dropout=config.dropout)

    def embed(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{m: p_m}`` ``[B, d]``, the unnormalised common-space embeddings."""
        missing = [m for m in self.modalities if m not in batch.features]
        if missing:
            raise KeyError(f"batch lacks modalities {missing} (has {batch.modalities})")
        return {m: self.projections[m](self.encoders[m](batch.features[m], batch.masks[m])[0])
                for m in self.modalities}

    def forward(self, batch: Batch) -> ModelOutput:
        pooled = self.embed(batch)
        Z = torch.stack([pooled[m] for m in self.modalities], dim=1)
        sigma, u = spectral_decomposition(Z)
        parts = {
            "leading": [u],
            "pooled": [pooled[m] for m in self.modalities],
            "both": [u] + [pooled[m] for m in self.modalities],
        }[self.config.head_input]
        fused = torch.cat(parts, dim=-1)
        sigma_d = sigma.detach()
        return ModelOutput(
            self.finish(self.head(fused)),
            {"pooled": pooled, "fused": fused, "leading": u},
            {"singular_values": sigma_d, "alignment": sigma_d[:, 0] / math.sqrt(len(self.modalities))},
        )
