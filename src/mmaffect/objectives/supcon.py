"""Supervised contrastive loss (Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020).

On ``z_i = r_i / ||r_i||`` (``r`` = ``output.representations[representation]`` ``[B, d]``), with ``P(i)`` the
other samples of the same class as ``i`` and ``A(i)`` all samples but ``i`` (the ``L_out`` form):

    L = mean_{i : |P(i)| > 0}  −1/|P(i)| Σ_{p ∈ P(i)} log( exp(z_i·z_p/τ) / Σ_{a ∈ A(i)} exp(z_i·z_a/τ) ).

Anchors without a positive are left out; a batch where no sample has a positive gives 0 (with a
graph, so ``backward`` works).

Classes: integer labels are used as they are. Real-valued (regression) labels are binned: by default
by their sign (three classes ``y < 0``, ``y = 0``, ``y > 0``); with ``bins`` (increasing edges) by
``torch.bucketize(y, bins, right=True)``, so that ``bins=[0.0]`` gives the two classes ``y < 0``, ``y ≥ 0``.

DecAlign's paper has no contrastive term. Its current release configures one (``ct_weight``,
``ct_temperature`` = 0.1; weight 0.01 on MOSEI, 0 elsewhere), but the training code computing it is not
part of the public snapshot we could read, so this is the standard SupCon loss on the fused
representation with sign classes for regression labels — a documented reconstruction, not a copy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mmaffect.objectives.base import Objective
from mmaffect.types import Batch, ModelOutput

__all__ = ["SupervisedContrastive", "label_classes", "supervised_contrastive_loss"]


def label_classes(labels: torch.Tensor, bins: Sequence[float] | None = None) -> torch.Tensor:
    """Integer classes ``[B]``: integer/bool labels as they are; real labels by sign or by ``bins``."""
    labels = labels.reshape(labels.shape[0], -1)[:, 0] if labels.dim() > 1 else labels
    if not torch.is_floating_point(labels):
        return labels.long()
    if bins is None:
        return torch.sign(labels).long()
    edges = torch.as_tensor(list(bins), dtype=labels.dtype, device=labels.device)
    if edges.numel() == 0 or bool((edges[1:] <= edges[:-1]).any()):
        raise ValueError(f"supcon: bins must be a non-empty increasing list of edges, got {list(bins)}")
    return torch.bucketize(labels, edges, right=True)


def supervised_contrastive_loss(features: torch.Tensor, classes: torch.Tensor, temperature: float = 0.07,
                                normalize: bool = True) -> torch.Tensor:
    """The ``L_out`` SupCon loss of ``features`` ``[B, d]`` with integer ``classes`` ``[B]`` (module docstring)."""
    if features.dim() != 2:
        raise ValueError(f"supcon: features must be [B, d], got shape {tuple(features.shape)}")
    if classes.shape != features.shape[:1]:
        raise ValueError(f"supcon: {classes.shape[0] if classes.dim() else 0} labels for {features.shape[0]} samples")
    if temperature <= 0:
        raise ValueError(f"supcon: temperature must be > 0, got {temperature}")
    z = F.normalize(features, dim=-1, eps=1e-8) if normalize else features
    n = z.shape[0]
    logits = z.matmul(z.t()) / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (classes.unsqueeze(0) == classes.unsqueeze(1)) & ~self_mask
    num_pos = positives.sum(1)
    has_pos = num_pos > 0
    if not bool(has_pos.any()):
        return features.sum() * 0.0
    pos_log_prob = log_prob.masked_fill(~positives, 0.0).sum(1)
    per_anchor = -pos_log_prob[has_pos] / num_pos[has_pos].to(z.dtype)
    return per_anchor.mean()


class SupervisedContrastive(Objective):
    """SupCon on ``output.representations[representation]`` ``[B, d]`` (``fused`` by default)."""

    name = "supcon"

    def __init__(self, weight: float = 1.0, temperature: float = 0.07, representation: str = "fused",
                 bins: list[float] | None = None, normalize: bool = True) -> None:
        super().__init__(weight)
        if temperature <= 0:
            raise ValueError(f"supcon: temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.representation = representation
        self.bins = list(bins) if bins is not None else None
        if self.bins is not None:
            label_classes(torch.zeros(1), self.bins)  # validates the edges now
        self.normalize = bool(normalize)

    def forward(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        rep = self.require(output, self.representation)
        if not isinstance(rep, torch.Tensor) or rep.dim() != 2:
            shape = tuple(rep.shape) if isinstance(rep, torch.Tensor) else type(rep).__name__
            raise TypeError(f"supcon needs representation {self.representation!r} as a [B, d] tensor, got {shape}")
        classes = label_classes(batch.labels.to(rep.device), self.bins)
        return supervised_contrastive_loss(rep, classes, self.temperature, self.normalize)
