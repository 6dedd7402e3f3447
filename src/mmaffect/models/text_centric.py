"""``text_centric``: explicit representation alignment through text (arXiv 2606.09148).

The image is turned into a structured text description (:mod:`mmaffect.encoders.describers`), so a
single text encoder reads the post and the description, ``text [SEP] ocr [SEP] visual_scene ...``:
the modalities are aligned explicitly, in the encoder's own token space. On top of the token states
``h_1..h_T`` (``[B, T, D]``):

1. optional projection ``h'_t = GELU(W h_t + b) + e_{m(t)}`` (``e_m`` a learned embedding of the
   source modality of token ``t`` when several token-state modalities are concatenated along time);
2. token scorer, a small MLP: ``s_t = w_2ᵀ GELU(W_1 h'_t + b_1) + b_2``;
3. top-K semantic token selection among the real (unmasked) tokens: ``K_b = topK_t s_t`` (all real
   tokens when ``top_k`` is null or exceeds the length);
4. gated mean pooling ``z = (1/|K_b|) Σ_{t ∈ K_b} σ(s_t) h'_t`` — the gate ``σ(s_t)`` is what lets the
   task loss reach the scorer (the hard top-K choice itself has no gradient);
5. head: ``ŷ = MLP(z)``.

Training adds ``λ · uniformity`` on ``representations["fused"] = z`` (objective ``uniformity``,
``log mean_{i≠j} exp(−t ||ẑ_i − ẑ_j||²)`` with ``ẑ = z / ||z||``, t = 2; Wang & Isola, ICML 2020),
which spreads the pooled representations of a batch over the sphere.

Inputs (``input``):

- ``features``: precomputed token states, one or several modalities ``[B, T_m, D_m]`` (e.g. MiniLM
  token states of the tweet and of the image's attribute words, from ``mmaffect extract --pooling
  tokens``); several modalities are projected to a common width and concatenated along time;
- ``tokens``: a ``transformers`` encoder held by the model (frozen unless ``finetune``) reads the token
  ids of ``batch.text_tokens`` (``input_ids``, ``attention_mask``; carried as ``tokens.*`` extras).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from mmaffect.models.base import AffectModel, ModelConfig
from mmaffect.models.blocks import mlp
from mmaffect.types import Batch, ModelOutput, TaskSpec


def top_k_mask(scores: torch.Tensor, mask: torch.Tensor, k: int | None) -> torch.Tensor:
    """``[B, T]`` bool: the ``k`` highest-scoring real tokens of each row (all real tokens if ``k`` is None)."""
    if k is None or k >= scores.shape[1]:
        return mask.clone()
    if k < 1:
        raise ValueError(f"top_k must be >= 1 or null, got {k}")
    masked = scores.detach().masked_fill(~mask, float("-inf"))
    index = masked.topk(k, dim=1).indices
    keep = torch.zeros_like(mask).scatter(1, index, True)
    return keep & mask


class TokenScorer(nn.Module):
    """``s_t = w_2ᵀ GELU(W_1 h_t + b_1) + b_2``: one relevance score per token."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(dim, hidden)
        self.weight_out = nn.Linear(hidden, 1)

    @property
    def weight(self) -> torch.Tensor:
        """The first layer's weight (the scorer's input weights)."""
        return self.hidden.weight

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.weight_out(torch.nn.functional.gelu(self.hidden(h))).squeeze(-1)


class TextCentric(AffectModel):
    class Config(ModelConfig):
        input: Literal["features", "tokens"] = "features"
        modalities: list[str] | None = None  # features: token-state modalities read (concatenated); null = all
        encoder: str = "all-MiniLM-L6-v2"  # tokens: transformers encoder (path or name)
        finetune: bool = False
        hidden: int | None = 256  # projection width before scoring; null = keep the encoder width
        top_k: int | None = 16  # null = all real tokens
        scorer_hidden: int = 64
        dropout: float = 0.1
        head_layers: int = 2
        modality_embedding: bool = True

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: "TextCentric.Config") -> None:
        if config.input == "features":
            names = config.modalities or list(dims)
            missing = [m for m in names if m not in dims]
            if missing or not names:
                raise ValueError(f"text_centric: modalities {missing or names} not in the data (has {sorted(dims)}); "
                                 f"extract token states first (mmaffect extract --pooling tokens)")
            used = {m: dims[m] for m in names}
        else:
            used = {}
        super().__init__(used, task, config)
        self.encoder: nn.Module | None = None
        if config.input == "tokens":
            self.encoder = self._load_encoder(config.encoder, config.finetune)
            widths = {"tokens": int(self.encoder.config.hidden_size)}
        else:
            widths = dict(used)
        width = config.hidden or max(widths.values())
        if config.hidden is None and len(set(widths.values())) > 1:
            raise ValueError(f"text_centric: modalities have different widths {widths}; set model.hidden")
        self.project = nn.ModuleDict({
            m: nn.Sequential(nn.Linear(d, width), nn.GELU()) if config.hidden else nn.Identity()
            for m, d in widths.items()
        })
        self.source = nn.ParameterDict({
            m: nn.Parameter(torch.zeros(width)) for m in widths
        }) if config.modality_embedding and len(widths) > 1 else None
        self.dropout = nn.Dropout(config.dropout)
        self.scorer = TokenScorer(width, config.scorer_hidden)
        self.head = mlp(width, width, task.output_dim, layers=config.head_layers, dropout=config.dropout)

    @staticmethod
    def _load_encoder(name: str, finetune: bool) -> nn.Module:
        from transformers import AutoModel

        from mmaffect.encoders.text import resolve_model_path

        path = resolve_model_path(name)
        encoder = AutoModel.from_pretrained(path)
        if not finetune:
            encoder.eval()
            for p in encoder.parameters():
                p.requires_grad_(False)
        return encoder

    def train(self, mode: bool = True) -> "TextCentric":
        super().train(mode)
        if self.encoder is not None and not self.config.finetune:
            self.encoder.eval()  # a frozen encoder keeps its dropout off
        return self

    def token_states(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The projected token states ``[B, T, H]`` and their mask ``[B, T]`` (several modalities concatenated)."""
        if self.encoder is not None:
            tokens = batch.text_tokens or {}
            if "input_ids" not in tokens:
                raise KeyError("text_centric (input: tokens) needs batch.text_tokens['input_ids']: add "
                               "tokens.input_ids / tokens.attention_mask extras (see mmaffect.data.loader)")
            ids = tokens["input_ids"].long()
            mask = tokens.get("attention_mask", torch.ones_like(ids)).bool()
            with torch.set_grad_enabled(self.config.finetune and torch.is_grad_enabled()):
                states = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
            return self.project["tokens"](states), mask
        missing = [m for m in self.modalities if m not in batch.features]
        if missing:
            raise KeyError(f"batch lacks modalities {missing} (has {batch.modalities})")
        states, masks = [], []
        for m in self.modalities:
            h = self.project[m](batch.features[m])
            if self.source is not None:
                h = h + self.source[m]
            states.append(h)
            masks.append(batch.masks[m])
        return torch.cat(states, dim=1), torch.cat(masks, dim=1)

    def forward(self, batch: Batch) -> ModelOutput:
        h, mask = self.token_states(batch)
        h = self.dropout(h)
        scores = self.scorer(h)
        keep = top_k_mask(scores, mask, self.config.top_k)
        gate = torch.sigmoid(scores) * keep.to(h.dtype)
        count = keep.sum(1, keepdim=True).clamp_min(1).to(h.dtype)
        z = (gate.unsqueeze(-1) * h).sum(1) / count
        return ModelOutput(
            self.finish(self.head(z)),
            {"fused": z, "pooled": {"text": z}},
            {"kept_tokens": keep.sum(1), "mean_gate": gate.sum(1) / count.squeeze(1)},
        )
