"""Core types shared by every layer: the task, a batch of features keyed by modality, a model's output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict

MetricSet = Literal["msa", "sims", "classification", "binary"]


class TaskSpec(BaseModel):
    """What is predicted and how it is scored.

    ``kind`` is ``regression`` (prediction ``[B]``) or ``classification`` (logits ``[B, C]``);
    ``metrics`` names the metric set of :mod:`mmaffect.metrics` used to score it.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["regression", "classification"]
    metrics: MetricSet
    num_classes: int = 1
    label_names: list[str] = []
    label_range: tuple[float, float] | None = None

    @property
    def output_dim(self) -> int:
        return 1 if self.kind == "regression" else self.num_classes


@dataclass
class Batch:
    """A mini-batch. ``features[m]`` is ``[B, T_m, D_m]``, ``masks[m]`` is ``[B, T_m]`` (True = real step).

    Modalities are addressed by name, never by position.
    """

    features: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    labels: torch.Tensor
    ids: list[str]
    index: torch.Tensor
    text_tokens: dict[str, torch.Tensor] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.labels.shape[0])

    @property
    def modalities(self) -> list[str]:
        return list(self.features)

    def to(self, device: torch.device | str) -> "Batch":
        move = lambda d: {k: v.to(device) for k, v in d.items()}  # noqa: E731
        return Batch(
            features=move(self.features),
            masks=move(self.masks),
            labels=self.labels.to(device),
            ids=self.ids,
            index=self.index.to(device),
            text_tokens=move(self.text_tokens) if self.text_tokens else None,
            extras=self.extras,
        )


@dataclass
class ModelOutput:
    """What a model returns: the prediction, named representations for objectives, and diagnostics.

    ``representations`` is a flat dict with keys such as ``pooled``, ``specific``, ``shared`` mapping to
    ``dict[modality, Tensor]`` (or a tensor for batch-level items such as ``fused``).
    """

    prediction: torch.Tensor
    representations: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)


# the modalities of a low-rank + sparse decomposition (arXiv 2506.07086): written by the decompose job,
# read by the rd model with ``decomposition: precomputed``
LOW_RANK = "rd_low_rank"
SPARSE_PREFIX = "rd_sparse_"


def is_decomposition_modality(name: str) -> bool:
    """True for the modalities of a stored decomposition (``rd_low_rank``, ``rd_sparse_<m>``)."""
    return name == LOW_RANK or name.startswith(SPARSE_PREFIX)


def decomposition_names(modalities: list[str]) -> list[str]:
    """The modalities a decomposition of ``modalities`` adds: ``rd_low_rank``, then ``rd_sparse_<m>`` per ``m``."""
    return [LOW_RANK, *(f"{SPARSE_PREFIX}{m}" for m in modalities)]
