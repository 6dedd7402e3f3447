"""A model together with the input standardisation fitted on the training split.

``x'_m = (x_m − μ_m) / σ_m`` per feature dimension, with μ, σ from the real (unpadded) steps of the
train split; padded steps stay 0. Saved with the weights so prediction sees the same inputs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from mmaffect.models.base import AffectModel
from mmaffect.types import Batch, ModelOutput

#: A function of a standardised batch returning a changed batch (e.g. noise on one modality).
Perturbation = Callable[[Batch], Batch]


class InputStandardizer(nn.Module):
    def __init__(self, dims: dict[str, int]) -> None:
        super().__init__()
        for m, d in dims.items():
            self.register_buffer(f"mean_{m}", torch.zeros(d))
            self.register_buffer(f"std_{m}", torch.ones(d))
        self.modalities = list(dims)

    @torch.no_grad()
    def fit(self, features: dict[str, np.ndarray], lengths: dict[str, np.ndarray], budget_bytes: int = 64 << 20) -> None:
        """Masked mean and standard deviation per dimension, accumulated in float64 over row chunks of
        at most ``budget_bytes`` each, so memory-mapped features are never loaded whole."""
        for m in self.modalities:
            arr, length = features[m], np.asarray(lengths[m])
            chunk = max(1, budget_bytes // (8 * int(np.prod(arr.shape[1:]))))
            total = np.zeros(arr.shape[-1]); total_sq = np.zeros(arr.shape[-1]); count = 0
            for start in range(0, len(arr), chunk):
                x = np.asarray(arr[start:start + chunk], dtype=np.float64)
                mask = np.arange(x.shape[1])[None, :] < length[start:start + chunk, None]
                rows = x[mask]
                total += rows.sum(0); total_sq += (rows ** 2).sum(0); count += len(rows)
            mean = total / max(count, 1)
            std = np.sqrt(np.maximum(total_sq / max(count, 1) - mean ** 2, 0.0))
            std[std < 1e-6] = 1.0
            getattr(self, f"mean_{m}").copy_(torch.from_numpy(mean))
            getattr(self, f"std_{m}").copy_(torch.from_numpy(std))

    def forward(self, batch: Batch) -> Batch:
        features = dict(batch.features)
        for m in self.modalities:
            if m in features:
                x = (features[m] - getattr(self, f"mean_{m}")) / getattr(self, f"std_{m}")
                features[m] = x * batch.masks[m].unsqueeze(-1).to(x.dtype)
        return Batch(features, batch.masks, batch.labels, batch.ids, batch.index, batch.text_tokens, batch.extras)


class Predictor(nn.Module):
    """``standardizer`` then ``model``; this is what checkpoints store.

    ``forward(batch, perturb)`` applies ``perturb`` to the standardised batch before the model, so a
    perturbed evaluation (robustness) sees exactly the inputs an unperturbed one does, plus the change.
    """

    def __init__(self, model: AffectModel, standardize: bool, modality_dropout: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.standardizer = InputStandardizer(model.dims) if standardize else None
        self.modality_dropout = modality_dropout

    def forward(self, batch: Batch, perturb: Perturbation | None = None) -> ModelOutput:
        if self.standardizer is not None:
            batch = self.standardizer(batch)
        if perturb is not None:
            batch = perturb(batch)
        if self.training and self.modality_dropout > 0:
            batch = drop_modalities(batch, self.modality_dropout)
        return self.model(batch)


def drop_modalities(batch: Batch, p: float) -> Batch:
    """Training augmentation: each sample loses each modality (features set to 0) with probability ``p``,
    never all of them at once, so no model can lean on one modality alone."""
    names = list(batch.features)
    keep = torch.rand(batch.size, len(names), device=batch.labels.device) >= p
    none_left = ~keep.any(1)
    keep[none_left, torch.randint(len(names), (int(none_left.sum()),), device=keep.device)] = True
    features = {m: x * keep[:, j, None, None].to(x.dtype) for j, (m, x) in enumerate(batch.features.items())}
    return Batch(features, batch.masks, batch.labels, batch.ids, batch.index, batch.text_tokens, batch.extras)
