"""The classic baselines, all on the same per-modality encoders.

- ``early_fusion``: concatenated pooled features -> MLP.
- ``late_fusion``: one predictor per modality; predictions averaged.
- ``tfn``: Tensor Fusion Network, ``z = vec([1; h_1] ⊗ … ⊗ [1; h_M])`` -> MLP (Zadeh et al., EMNLP 2017).
- ``lmf``: Low-rank Multimodal Fusion, ``h = Σ_r λ_r ∏_m (W_m^{(r)} [1; h_m])`` (Liu et al., ACL 2018).
- ``mult``: Multimodal Transformer, cross-modal attention into each modality (Tsai et al., ACL 2019).
- ``unimodal``: one modality only (the reference a multimodal model must beat).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from mmaffect.models.base import AffectModel, ModelConfig
from mmaffect.models.blocks import CrossModalBlock, SequenceEncoder, mlp
from mmaffect.ops.pooling import key_padding, masked_mean
from mmaffect.types import Batch, ModelOutput, TaskSpec


class EncoderConfig(ModelConfig):
    hidden: int = 64
    encoder: Literal["mean", "gru", "transformer"] = "mean"
    dropout: float = 0.1
    input_dropout: float = 0.0
    head_layers: int = 2


class _PerModality(AffectModel):
    """Shared plumbing: one :class:`SequenceEncoder` per modality, equal output size ``hidden``."""

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: EncoderConfig, hidden: int | None = None) -> None:
        super().__init__(dims, task, config)
        h = hidden or config.hidden
        self.encoders = nn.ModuleDict({
            m: SequenceEncoder(d, h, kind=config.encoder, dropout=config.dropout, input_dropout=config.input_dropout)
            for m, d in dims.items()
        })

    def encode(self, batch: Batch) -> dict[str, torch.Tensor]:
        missing = [m for m in self.modalities if m not in batch.features]
        if missing:
            raise KeyError(f"batch lacks modalities {missing} (has {batch.modalities})")
        return {m: enc(batch.features[m], batch.masks[m])[0] for m, enc in self.encoders.items()}


class Unimodal(_PerModality):
    class Config(EncoderConfig):
        modality: str | None = None

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: "Unimodal.Config") -> None:
        modality = config.modality or next(iter(dims))
        if modality not in dims:
            raise ValueError(f"unimodal: modality {modality!r} not in the data (has {sorted(dims)})")
        super().__init__({modality: dims[modality]}, task, config)
        self.head = mlp(config.hidden, config.hidden, task.output_dim, layers=config.head_layers, dropout=config.dropout)

    def forward(self, batch: Batch) -> ModelOutput:
        pooled = self.encode(batch)
        (h,) = pooled.values()
        return ModelOutput(self.finish(self.head(h)), {"pooled": pooled, "fused": h})


class EarlyFusion(_PerModality):
    Config = EncoderConfig

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: EncoderConfig) -> None:
        super().__init__(dims, task, config)
        self.head = mlp(config.hidden * len(dims), config.hidden, task.output_dim,
                        layers=config.head_layers, dropout=config.dropout)

    def forward(self, batch: Batch) -> ModelOutput:
        pooled = self.encode(batch)
        fused = torch.cat([pooled[m] for m in self.modalities], dim=-1)
        return ModelOutput(self.finish(self.head(fused)), {"pooled": pooled, "fused": fused})


class LateFusion(_PerModality):
    Config = EncoderConfig

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: EncoderConfig) -> None:
        super().__init__(dims, task, config)
        self.heads = nn.ModuleDict({
            m: mlp(config.hidden, config.hidden, task.output_dim, layers=config.head_layers, dropout=config.dropout)
            for m in dims
        })

    def forward(self, batch: Batch) -> ModelOutput:
        pooled = self.encode(batch)
        per_modality = {m: self.heads[m](pooled[m]) for m in self.modalities}
        prediction = torch.stack(list(per_modality.values())).mean(0)
        fused = torch.cat([pooled[m] for m in self.modalities], dim=-1)
        return ModelOutput(self.finish(prediction), {"pooled": pooled, "fused": fused},
                           {"per_modality": {m: self.finish(p) for m, p in per_modality.items()}})


class TensorFusion(_PerModality):
    class Config(EncoderConfig):
        hidden: int = 16
        post_fusion: int = 64

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: "TensorFusion.Config") -> None:
        super().__init__(dims, task, config)
        fused_dim = (config.hidden + 1) ** len(dims)
        self.head = nn.Sequential(nn.Dropout(config.dropout),
                                  mlp(fused_dim, config.post_fusion, task.output_dim, layers=3, dropout=config.dropout))

    def forward(self, batch: Batch) -> ModelOutput:
        pooled = self.encode(batch)
        ones = next(iter(pooled.values())).new_ones(batch.size, 1)
        z = ones
        for m in self.modalities:
            h = torch.cat([ones, pooled[m]], dim=-1)
            z = torch.einsum("bi,bj->bij", z, h).flatten(1)
        return ModelOutput(self.finish(self.head(z)), {"pooled": pooled, "fused": z})


class LowRankFusion(_PerModality):
    class Config(EncoderConfig):
        rank: int = 4
        fusion_dim: int = 32

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: "LowRankFusion.Config") -> None:
        super().__init__(dims, task, config)
        h, r, f = config.hidden, config.rank, config.fusion_dim
        self.factors = nn.ParameterDict({m: nn.Parameter(torch.randn(r, h + 1, f) * math.sqrt(2.0 / (h + 1 + f)))
                                         for m in dims})
        self.rank_weights = nn.Parameter(torch.randn(1, r) * math.sqrt(1.0 / r))
        self.bias = nn.Parameter(torch.zeros(1, f))
        self.head = mlp(f, config.hidden, task.output_dim, layers=config.head_layers, dropout=config.dropout)

    def forward(self, batch: Batch) -> ModelOutput:
        pooled = self.encode(batch)
        ones = next(iter(pooled.values())).new_ones(batch.size, 1)
        product = None
        for m in self.modalities:
            projected = torch.einsum("bi,rif->brf", torch.cat([ones, pooled[m]], dim=-1), self.factors[m])
            product = projected if product is None else product * projected
        fused = torch.einsum("or,brf->bf", self.rank_weights, product) + self.bias
        return ModelOutput(self.finish(self.head(torch.relu(fused))), {"pooled": pooled, "fused": fused})


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """Transformer positional encoding ``PE[t, 2i] = sin(t / 10000^{2i/d})``, ``PE[t, 2i+1] = cos(...)``."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(position * freq)
    pe[:, 1::2] = torch.cos(position * freq)[:, : dim // 2]
    return pe


class MulT(AffectModel):
    class Config(ModelConfig):
        hidden: int = 32
        heads: int = 4
        cross_layers: int = 1
        self_layers: int = 1
        dropout: float = 0.1
        input_dropout: float = 0.0
        kernel_size: int = 1

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: "MulT.Config") -> None:
        super().__init__(dims, task, config)
        d = config.hidden
        self.input_dropout = nn.Dropout(config.input_dropout)
        self.project = nn.ModuleDict({m: nn.Conv1d(dim, d, config.kernel_size, padding=config.kernel_size // 2, bias=False)
                                      for m, dim in dims.items()})
        self.cross = nn.ModuleDict({
            f"{src}->{tgt}": nn.ModuleList(CrossModalBlock(d, config.heads, config.dropout) for _ in range(config.cross_layers))
            for tgt in dims for src in dims if src != tgt
        })
        others = max(len(dims) - 1, 1)
        self.self_attention = nn.ModuleDict({
            m: nn.TransformerEncoder(
                nn.TransformerEncoderLayer(d * others, config.heads, 2 * d * others, config.dropout,
                                           batch_first=True, norm_first=True),
                config.self_layers, enable_nested_tensor=False)
            for m in dims
        })
        self.head = mlp(d * others * len(dims), d * others, task.output_dim, layers=2, dropout=config.dropout)

    def forward(self, batch: Batch) -> ModelOutput:
        h = {}
        for m in self.modalities:
            x = self.input_dropout(batch.features[m])
            x = self.project[m](x.transpose(1, 2)).transpose(1, 2)
            h[m] = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device)
        pooled = {}
        for tgt in self.modalities:
            streams = []
            for src in self.modalities:
                if src == tgt:
                    continue
                x = h[tgt]
                for block in self.cross[f"{src}->{tgt}"]:
                    x = block(x, h[src], batch.masks[src])
                streams.append(x)
            x = torch.cat(streams, dim=-1) if streams else h[tgt]
            x = self.self_attention[tgt](x, src_key_padding_mask=key_padding(batch.masks[tgt]))
            pooled[tgt] = masked_mean(x, batch.masks[tgt])
        fused = torch.cat([pooled[m] for m in self.modalities], dim=-1)
        return ModelOutput(self.finish(self.head(fused)), {"pooled": pooled, "fused": fused})
