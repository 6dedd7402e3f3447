"""Batch uniformity regulariser (Wang & Isola, ICML 2020), as used by the text-centric alignment method."""

from __future__ import annotations

import torch

from mmaffect.objectives.base import Objective
from mmaffect.ops.uniformity import uniformity
from mmaffect.types import Batch, ModelOutput


class Uniformity(Objective):
    """``log mean_{i≠j} exp(−t ||ẑ_i − ẑ_j||²)`` over the batch rows of a representation.

    ``representation`` names a ``[B, F]`` tensor (``fused`` by default) or a ``{modality: [B, F_m]}`` dict,
    in which case the per-modality values are averaged. A batch of one sample has no pairs and gives 0.
    """

    name = "uniformity"

    def __init__(self, weight: float = 1.0, t: float = 2.0, representation: str = "fused") -> None:
        super().__init__(weight)
        if t <= 0:
            raise ValueError(f"uniformity: t must be > 0, got {t}")
        self.t = float(t)
        self.representation = representation

    def _one(self, z: torch.Tensor, where: str) -> torch.Tensor:
        if z.ndim != 2:
            raise ValueError(f"uniformity needs a [B, F] tensor, but {where} has shape {tuple(z.shape)}")
        if z.shape[0] < 2:
            return z.sum() * 0.0
        return uniformity(z, self.t)

    def forward(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        rep = self.require(output, self.representation)
        if isinstance(rep, dict):
            if not rep:
                raise ValueError(f"representation {self.representation!r} is empty")
            return torch.stack([self._one(z, f"{self.representation}[{m!r}]") for m, z in rep.items()]).mean()
        return self._one(rep, repr(self.representation))
