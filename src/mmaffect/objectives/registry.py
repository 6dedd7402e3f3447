"""The objective registry and factory. Objectives hold no learnable parameters: any projection they
need belongs to the model, which exposes its output as a named representation."""

from __future__ import annotations

from typing import Any

from mmaffect.objectives.base import Objective
from mmaffect.registry import Registry

OBJECTIVES: Registry[type[Objective]] = Registry("objective")
OBJECTIVES.add("spectral_alignment", "mmaffect.objectives.spectral:SpectralAlignment",
               description="PMRL intra-sample singular-value alignment on pooled[m]")
OBJECTIVES.add("leading_direction_contrast", "mmaffect.objectives.spectral:LeadingDirectionContrast",
               description="PMRL InfoNCE on the leading singular vectors of pooled[m]")
OBJECTIVES.add("uniformity", "mmaffect.objectives.uniformity:Uniformity",
               description="batch uniformity of the fused representation")
OBJECTIVES.add("decoupling", "mmaffect.objectives.decalign:Decoupling",
               description="DecAlign cos^2 between specific[m] and shared[m]")
OBJECTIVES.add("heterogeneous", "mmaffect.objectives.decalign:HeterogeneousAlignment",
               description="DecAlign GMM prototypes + multi-marginal OT + local calibration")
OBJECTIVES.add("homogeneous", "mmaffect.objectives.decalign:HomogeneousAlignment",
               description="DecAlign moment matching + MMD on shared features")
OBJECTIVES.add("supcon", "mmaffect.objectives.supcon:SupervisedContrastive",
               description="supervised contrastive loss on a representation")


def build_objective(name: str, weight: float = 1.0, **params: Any) -> Objective:
    cls = OBJECTIVES.get(name)
    try:
        return cls(weight=weight, **params)
    except TypeError as err:
        raise ValueError(f"invalid parameters for objective {name!r}: {err}") from None
