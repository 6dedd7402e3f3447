"""The objective interface: a small module that turns a model's representations into one scalar loss."""

from __future__ import annotations

import torch
from torch import nn

from mmaffect.types import Batch, ModelOutput


class Objective(nn.Module):
    """``forward(output, batch) -> scalar``; the trainer adds ``weight * forward(...)`` to the task loss.

    Subclasses declare ``name`` and read what they need from ``output.representations``, raising a
    ``KeyError`` that names the missing representation when the model does not expose it.
    """

    name: str = "objective"

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = float(weight)

    def forward(self, output: ModelOutput, batch: Batch) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def require(output: ModelOutput, key: str):
        if key not in output.representations:
            raise KeyError(
                f"this objective needs representation {key!r}; the model exposes "
                f"{sorted(output.representations)}"
            )
        return output.representations[key]
