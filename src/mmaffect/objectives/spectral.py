"""PMRL objectives (Liu et al., arXiv 2507.17343) on a model's per-modality embeddings.

Both read ``output.representations[representation]`` = ``{modality: [B, d]}`` (``pooled`` by default),
stack the modalities into ``Z`` ``[B, M, d]`` and L2-normalise each of them (see
:mod:`mmaffect.ops.spectral`). Any model that exposes equal-dimension pooled embeddings can use them.
"""

from __future__ import annotations

from typing import Literal

import torch

from mmaffect.objectives.base import Objective
from mmaffect.ops.spectral import leading_direction_contrast, spectral_alignment_loss, spectral_decomposition
from mmaffect.types import Batch, ModelOutput


def stack_modalities(output: ModelOutput, representation: str, modalities: list[str] | None = None) -> torch.Tensor:
    """``Z`` ``[B, M, d]`` from ``output.representations[representation][m]`` (``[B, d]`` each)."""
    rep = Objective.require(output, representation)
    if not isinstance(rep, dict):
        raise TypeError(f"representation {representation!r} must map modality -> [B, d] tensor, "
                        f"got {type(rep).__name__}")
    names = list(rep) if modalities is None else list(modalities)
    missing = [m for m in names if m not in rep]
    if missing:
        raise KeyError(f"representation {representation!r} lacks modalities {missing} (has {sorted(rep)})")
    if len(names) < 2:
        raise ValueError(f"spectral alignment needs at least 2 modalities, got {names}")
    shapes = {m: tuple(rep[m].shape) for m in names}
    if any(len(s) != 2 for s in shapes.values()):
        raise ValueError(f"representation {representation!r} must hold [B, d] tensors per modality, got {shapes}")
    if len({s[1] for s in shapes.values()}) != 1:
        raise ValueError(
            f"spectral alignment needs equal-dimension embeddings, but {representation!r} has dims "
            f"{ {m: s[1] for m, s in shapes.items()} }; the model must expose pooled embeddings projected "
            "to a common dimension d"
        )
    return torch.stack([rep[m] for m in names], dim=1)


class SpectralAlignment(Objective):
    """Intra-instance alignment ``L_intra = mean_b CE(σ_b / τ, 0)``, ``σ_b`` the singular values of the
    sample's ``d×M`` matrix of normalised modality embeddings (maximises the dominant one)."""

    name = "spectral_alignment"

    def __init__(self, weight: float = 1.0, tau: float = 0.05, representation: str = "pooled",
                 modalities: list[str] | None = None) -> None:
        super().__init__(weight)
        if tau <= 0:
            raise ValueError(f"spectral_alignment: tau must be > 0, got {tau}")
        self.tau = float(tau)
        self.representation = representation
        self.modalities = list(modalities) if modalities is not None else None

    def forward(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        Z = stack_modalities(output, self.representation, self.modalities)
        return spectral_alignment_loss(Z, self.tau)


class LeadingDirectionContrast(Objective):
    """Inter-instance InfoNCE on the leading singular vectors ``u_1`` of each sample.

    ``contrast_with="leading"`` (the released PMRL code): logits ``<u_i, u_j> / τ``, positive ``j = i``.
    ``contrast_with="modalities"``: logits ``<u_i, ẑ_{m,j}> / τ`` averaged over modalities ``m``
    (positives: the sample's own modality embeddings), symmetric in both retrieval directions.
    """

    name = "leading_direction_contrast"

    def __init__(self, weight: float = 1.0, tau: float = 0.1, representation: str = "pooled",
                 modalities: list[str] | None = None,
                 contrast_with: Literal["leading", "modalities"] = "leading") -> None:
        super().__init__(weight)
        if tau <= 0:
            raise ValueError(f"leading_direction_contrast: tau must be > 0, got {tau}")
        if contrast_with not in ("leading", "modalities"):
            raise ValueError(f"leading_direction_contrast: contrast_with must be 'leading' or 'modalities', "
                             f"got {contrast_with!r}")
        self.tau = float(tau)
        self.representation = representation
        self.modalities = list(modalities) if modalities is not None else None
        self.contrast_with = contrast_with

    def forward(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        Z = stack_modalities(output, self.representation, self.modalities)
        _, u = spectral_decomposition(Z)
        if self.contrast_with == "leading":
            return leading_direction_contrast(u, self.tau)
        return leading_direction_contrast(u, self.tau, keys=Z, symmetric=True)
