"""DecAlign (Qian et al., "DecAlign: Hierarchical Cross-Modal Alignment for Decoupled Multimodal
Representation Learning", ICLR 2026), following the released code (taco-group/DecAlign).

Per modality ``m`` with input ``x_m`` ``[B, T_m, D_m]``:

1. projection to ``d``: ``Conv1d(D_m, d, kernel k_m, no padding, no bias)`` over time, skipped when
   ``D_m = d``; output length ``T'_m = T_m − k_m + 1``;
2. decoupling: ``s_m = E_m(p_m)`` (one specific encoder per modality) and ``c_m = E_c(p_m)`` (one encoder
   shared by all modalities), both 1×1 convolutions without bias (written as bias-free linear maps on
   the feature axis, which is the same operation);
3. per-modality cross-modal transformer: query = ``s_m``, key/value = the other modalities' specific
   sequences concatenated over time; masked mean over time gives ``h_m`` ``[B, d]``;
4. head ``Linear(dropout([h_1 … h_M, c̄_1 … c̄_M]))`` with ``c̄_m`` the masked time-mean of ``c_m``
   (``shared_fusion="mean"`` uses ``[h_1 … h_M, mean_m c̄_m]`` instead);
5. for the homogeneous objective, ``shared_projected[m] = MLP_m(c̄_m)`` (Linear–ReLU–Dropout–Linear, the
   release's ``DistributionEncoder``).

The alignment losses are objectives (:mod:`mmaffect.objectives.decalign`), computed from the
representations this model returns: ``specific``/``shared`` ``{m: [B, T'_m, d]}``, ``pooled`` (masked
time-mean of ``specific``), ``shared_projected`` ``{m: [B, d']}``, ``cross_modal`` (the ``h_m``), ``fused``
``[B, F]`` and ``masks`` ``{m: [B, T'_m]}``.

Differences from the release:

- sequences shorter than the kernel (``T_m < k_m``, e.g. utterance-level features with ``T = 1``) are
  zero-padded on the right to ``k_m`` steps, giving one output step (the release requires ``T ≥ k``);
- an output step is real when its whole window of ``k_m`` input steps is real; a sample with fewer than
  ``k_m`` real steps keeps its first output step (its window completed by zeros, as for ``T < k``). The
  release instead truncates the input mask to ``T'_m`` steps, which makes outputs depend on how much
  padding the batch carries;
- padded steps are always zeroed and excluded by key-padding masks in attention and by masked means
  (the release masks only with ``use_sequence_mask``, off for MOSI/MOSEI); a sample whose context is
  entirely padding attends to all (zero) context steps instead of producing NaN;
- attention is standard multi-head cross-attention (queries from ``s_m``, keys and values from the
  context) inside post-norm residual layers like MulT's, inputs scaled by ``sqrt(d)``, embedding dropout
  on the query. The transformer file stored with the release computes keys and values from the query
  (``F.linear(query, W_qkv).chunk(3)``), which ignores the context; that is not reproduced. No causal
  mask (the release's ``attn_mask`` flag builds a square causal mask, which does not fit a context
  longer than the query) and no positional embedding (the stored release transformer has none);
- the input dropout ``text_dropout`` applies to the modality named ``text``; BERT fine-tuning of the text
  encoder is outside this model (features are precomputed).

The paper describes the fusion as a multimodal transformer on the heterogeneous features followed by
fusion with the homogeneous ones; the concrete architecture here (one cross-modal transformer per
modality, concatenation with the time-mean shared features, one linear head) is the release's.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import model_validator
from torch import nn

from mmaffect.models.base import AffectModel, ModelConfig
from mmaffect.models.blocks import CrossModalEncoder
from mmaffect.ops.pooling import masked_mean
from mmaffect.types import Batch, ModelOutput, TaskSpec

__all__ = ["CrossModalEncoder", "DecAlign", "transport_plan_entropy"]


def transport_plan_entropy(pooled: dict[str, np.ndarray], num_prototypes: int = 7, eps: float = 0.1) -> dict:
    """DecAlign's prototype transport on a whole split: per-modality GMMs on the time-mean specific
    features, the multi-marginal entropic plan between their prototypes (the heterogeneous objective's
    computation), and its entropy ``H(P) = −Σ P log P`` beside the entropy of the independent coupling
    ``⊗_m ν_m``, ``Σ_m H(ν_m)`` (the maximum over plans with these marginals)."""
    from mmaffect.objectives.decalign import HeterogeneousAlignment

    objective = HeterogeneousAlignment(num_prototypes=num_prototypes, eps=eps)
    specific = {m: torch.from_numpy(np.asarray(v, dtype=np.float32)) for m, v in pooled.items()}
    with torch.no_grad():
        objective(ModelOutput(torch.zeros(1), {"specific": specific}), None)
    plan = objective.last["plan"].double()
    entropy = float(-(plan * plan.clamp_min(1e-300).log()).sum())
    independent = sum(float(-(nu.double() * nu.double().clamp_min(1e-300).log()).sum())
                      for nu in objective.last["marginals"].values())
    return {"ot_plan_entropy": entropy, "independent_coupling_entropy": independent,
            "ot_plan_entropy_ratio": entropy / independent if independent > 0 else float("nan")}


def _per_modality(value: float | int | dict[str, float] | dict[str, int], m: str, default: float | int):
    if isinstance(value, dict):
        return value.get(m, default)
    return value


class DecAlign(AffectModel):
    """Decoupled specific/shared features, cross-modal transformers on the specific ones (see module)."""

    class Config(ModelConfig):
        hidden: int = 40  # d (the release's dst_feature_dim)
        num_heads: int = 10
        num_layers: int = 5  # layers of each cross-modal transformer (the release's nlevels)
        conv_kernel: int | dict[str, int] = 1  # per modality name, missing names use 1
        attn_dropout: float | dict[str, float] = 0.1  # per modality name, missing names use 0.0
        relu_dropout: float = 0.1
        res_dropout: float = 0.1
        embed_dropout: float = 0.25
        output_dropout: float = 0.0  # before the head and inside the homogeneous MLP
        text_dropout: float = 0.0  # on the input of the modality named "text"
        homogeneous_dim: int | None = None  # output size of the homogeneous MLP (the release's pde_dim); None = hidden
        cross_modal_attention: bool = True  # False: each transformer attends to its own modality
        shared_fusion: Literal["concat", "mean"] = "concat"

        @model_validator(mode="after")
        def _check(self) -> "DecAlign.Config":
            if self.hidden < 1 or self.num_heads < 1 or self.num_layers < 0:
                raise ValueError("hidden and num_heads must be >= 1 and num_layers >= 0")
            if self.hidden % self.num_heads:
                raise ValueError(f"hidden={self.hidden} must be divisible by num_heads={self.num_heads}")
            kernels = self.conv_kernel.values() if isinstance(self.conv_kernel, dict) else [self.conv_kernel]
            if any(k < 1 for k in kernels):
                raise ValueError(f"conv_kernel must be >= 1, got {self.conv_kernel}")
            if self.homogeneous_dim is not None and self.homogeneous_dim < 1:
                raise ValueError(f"homogeneous_dim must be >= 1, got {self.homogeneous_dim}")
            return self

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: "DecAlign.Config") -> None:
        super().__init__(dims, task, config)
        if len(dims) < 2:
            raise ValueError(f"decalign needs at least 2 modalities, got {list(dims)}")
        d = config.hidden
        self.kernels = {m: int(_per_modality(config.conv_kernel, m, 1)) for m in dims}
        self.projections = nn.ModuleDict({
            m: nn.Conv1d(dim, d, kernel_size=self.kernels[m], padding=0, bias=False)
            for m, dim in dims.items() if dim != d
        })
        self.specific = nn.ModuleDict({m: nn.Linear(d, d, bias=False) for m in dims})
        self.shared = nn.Linear(d, d, bias=False)
        self.transformers = nn.ModuleDict({
            m: CrossModalEncoder(d, config.num_heads, config.num_layers,
                                 attn_dropout=float(_per_modality(config.attn_dropout, m, 0.0)),
                                 relu_dropout=config.relu_dropout, res_dropout=config.res_dropout,
                                 embed_dropout=config.embed_dropout)
            for m in dims
        })
        hd = config.homogeneous_dim or d
        self.homogeneous = nn.ModuleDict({
            m: nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Dropout(config.output_dropout), nn.Linear(d, hd))
            for m in dims
        })
        M = len(dims)
        fused_dim = 2 * M * d if config.shared_fusion == "concat" else (M + 1) * d
        self.out_dropout = nn.Dropout(config.output_dropout)
        self.head = nn.Linear(fused_dim, task.output_dim)

    def split_diagnostics(self, pooled: dict[str, np.ndarray]) -> dict[str, float]:
        """The entropy of the prototype transport plan over the split (:func:`transport_plan_entropy`)."""
        return transport_plan_entropy(pooled) if len(pooled) >= 2 else {}

    def project(self, m: str, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, T, D]`` -> ``[B, T', d]`` and its mask ``[B, T']`` (``T' = max(T, k) − k + 1``; see module)."""
        x = x * mask.unsqueeze(-1).to(x.dtype)
        if m == "text" and self.config.text_dropout:
            x = F.dropout(x, p=self.config.text_dropout, training=self.training)
        if m not in self.projections:
            return x, mask
        k = self.kernels[m]
        seq = x.transpose(1, 2)
        if seq.shape[-1] < k:
            seq = F.pad(seq, (0, k - seq.shape[-1]))
        out = self.projections[m](seq).transpose(1, 2)
        padded_mask = F.pad(mask, (0, max(k - mask.shape[1], 0)), value=False)
        out_mask = padded_mask.unfold(1, k, 1).all(-1)
        short = ~out_mask.any(1) & mask.any(1)
        out_mask[:, 0] |= short
        return out * out_mask.unsqueeze(-1).to(out.dtype), out_mask

    def forward(self, batch: Batch) -> ModelOutput:
        missing = [m for m in self.modalities if m not in batch.features]
        if missing:
            raise KeyError(f"batch lacks modalities {missing} (has {batch.modalities})")
        for m in self.modalities:
            x, mask = batch.features[m], batch.masks[m]
            if x.dim() != 3 or x.shape[-1] != self.dims[m] or tuple(mask.shape) != tuple(x.shape[:2]):
                raise ValueError(f"modality {m!r}: expected features [B, T, {self.dims[m]}] and mask [B, T], "
                                 f"got {tuple(x.shape)} and {tuple(mask.shape)}")
        specific, shared, masks = {}, {}, {}
        for m in self.modalities:
            p, mask = self.project(m, batch.features[m], batch.masks[m].bool())
            specific[m], shared[m], masks[m] = self.specific[m](p), self.shared(p), mask

        hetero, pooled, shared_mean, projected = {}, {}, {}, {}
        for m in self.modalities:
            others = [o for o in self.modalities if o != m] if self.config.cross_modal_attention else [m]
            context = torch.cat([specific[o] for o in others], dim=1)
            context_mask = torch.cat([masks[o] for o in others], dim=1)
            encoded = self.transformers[m](specific[m], context, context_mask)
            hetero[m] = masked_mean(encoded, masks[m])
            pooled[m] = masked_mean(specific[m], masks[m])
            shared_mean[m] = masked_mean(shared[m], masks[m])
            projected[m] = self.homogeneous[m](shared_mean[m])

        hs = [hetero[m] for m in self.modalities]
        if self.config.shared_fusion == "concat":
            fused = torch.cat(hs + [shared_mean[m] for m in self.modalities], dim=-1)
        else:
            fused = torch.cat(hs + [torch.stack([shared_mean[m] for m in self.modalities]).mean(0)], dim=-1)
        prediction = self.finish(self.head(self.out_dropout(fused)))

        with torch.no_grad():
            cos2 = {m: F.cosine_similarity(specific[m].flatten(1), shared[m].flatten(1), dim=1).pow(2).mean()
                    for m in self.modalities}
        return ModelOutput(
            prediction,
            {"specific": specific, "shared": shared, "shared_projected": projected, "pooled": pooled,
             "fused": fused, "masks": masks, "cross_modal": hetero},
            {"decoupling_cos2": cos2, "sequence_lengths": {m: int(masks[m].shape[1]) for m in self.modalities}},
        )
