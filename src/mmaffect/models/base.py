"""The model interface and its single factory."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError
from torch import nn

from mmaffect.registry import Registry
from mmaffect.types import Batch, ModelOutput, TaskSpec


class ModelConfig(BaseModel):
    """Base of every model's hyper-parameters: unknown or misspelled keys are errors."""

    model_config = ConfigDict(extra="forbid")


class AffectModel(nn.Module):
    """A registered model: ``forward(batch) -> ModelOutput``; never computes the task loss, never reads files.

    Subclasses set ``Config`` (a :class:`ModelConfig`) and build themselves from the modality dims, the
    task and that config. ``prediction`` is ``[B]`` for regression and ``[B, C]`` logits otherwise.
    """

    Config: ClassVar[type[ModelConfig]] = ModelConfig

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: ModelConfig) -> None:
        super().__init__()
        self.dims = dict(dims)
        self.modalities = list(dims)
        self.task = task
        self.config = config

    def forward(self, batch: Batch) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def split_diagnostics(self, pooled: dict[str, np.ndarray]) -> dict[str, float]:
        """Method-specific diagnostics over a whole split, from the ``pooled[m]`` representations the
        model returned for it (``[N, d_m]`` each); generic diagnostics call this hook, never a name
        test. The default has none."""
        return {}

    def finish(self, out: Any) -> Any:
        """Squeeze a ``[B, 1]`` regression output to ``[B]``."""
        return out.squeeze(-1) if self.task.kind == "regression" else out


MODELS: Registry[type[AffectModel]] = Registry("model")
MODELS.add("early_fusion", "mmaffect.models.baselines:EarlyFusion", description="concatenated pooled features -> MLP")
MODELS.add("late_fusion", "mmaffect.models.baselines:LateFusion", description="one predictor per modality, averaged")
MODELS.add("tfn", "mmaffect.models.baselines:TensorFusion", description="tensor fusion network (Zadeh et al., 2017)")
MODELS.add("lmf", "mmaffect.models.baselines:LowRankFusion", description="low-rank multimodal fusion (Liu et al., 2018)")
MODELS.add("mult", "mmaffect.models.baselines:MulT", description="multimodal transformer (Tsai et al., 2019)")
MODELS.add("unimodal", "mmaffect.models.baselines:Unimodal", description="one modality -> MLP (reference)")
MODELS.add("pmrl", "mmaffect.models.pmrl:PMRL", description="singular-value alignment (arXiv 2507.17343)")
MODELS.add("decalign", "mmaffect.models.decalign:DecAlign", description="decoupled hierarchical alignment (ICLR 2026)")
MODELS.add("rd", "mmaffect.models.rd:RepresentationDecomposition", description="low-rank + sparse decomposition (arXiv 2506.07086)")
MODELS.add("text_centric", "mmaffect.models.text_centric:TextCentric", description="explicit alignment through text (arXiv 2606.09148)", extra="text")


def build_model(name: str, dims: dict[str, int], task: TaskSpec, params: dict[str, Any] | None = None) -> AffectModel:
    """Instantiate model ``name`` with validated ``params``; a bad key raises ``ValueError`` naming it."""
    cls = MODELS.get(name)
    try:
        config = cls.Config(**(params or {}))
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ValueError(f"invalid parameters for model {name!r}: {problems}") from None
    return cls(dims, task, config)
