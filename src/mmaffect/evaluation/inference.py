"""The one inference loop (no Lightning): predictions, and optionally pooled representations and
per-sample model diagnostics, for a split.

Every consumer goes through it: ``evaluate`` and ``predict``, model selection at the end of ``fit``,
robustness (with a perturbation applied to each standardised batch) and diagnostics. The batch always
takes the checkpointed path ``standardise → (perturb) → model`` of :class:`Predictor`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from mmaffect.data.bundle import SplitData
from mmaffect.data.loader import make_loader
from mmaffect.metrics import compute_metrics
from mmaffect.models.predictor import Perturbation, Predictor
from mmaffect.types import TaskSpec


@dataclass
class SplitPredictions:
    ids: list[str]
    scores: np.ndarray  # [N] regression, [N, C] class probabilities
    labels: np.ndarray
    pooled: dict[str, np.ndarray] = field(default_factory=dict)
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)


def prediction_scores(prediction: torch.Tensor, task: TaskSpec) -> np.ndarray:
    """What metrics read: regression predictions as they are, classification logits as probabilities
    ``softmax(z)_c = exp(z_c) / Σ_k exp(z_k)``."""
    prediction = prediction.detach().float()
    if task.kind == "classification":
        prediction = torch.softmax(prediction, dim=-1)
    return prediction.cpu().numpy()


@torch.no_grad()
def predict_split(
    predictor: Predictor, split: SplitData, task: TaskSpec, *, batch_size: int = 256, keep_pooled: bool = False,
    perturb: Perturbation | None = None, seed: int | None = None,
) -> SplitPredictions:
    """Run ``predictor`` over ``split`` in order.

    ``perturb`` (a function of the standardised batch) is applied before the model; ``seed`` seeds
    torch's generator first, so a random perturbation is reproducible. With ``keep_pooled``, the
    model's ``pooled[m]`` representations and its per-sample diagnostics (tensors with a leading batch
    axis) are gathered too.
    """
    predictor.eval()
    if seed is not None:
        torch.manual_seed(seed)
    device = next(predictor.parameters()).device
    loader = make_loader(split, classification=task.kind == "classification", batch_size=batch_size, shuffle=False)
    scores, labels, ids = [], [], []
    pooled: dict[str, list[np.ndarray]] = {}
    diagnostics: dict[str, list[np.ndarray]] = {}
    for batch in loader:
        output = predictor(batch.to(device), perturb=perturb)
        scores.append(prediction_scores(output.prediction, task))
        labels.append(batch.labels.cpu().numpy())
        ids.extend(batch.ids)
        if keep_pooled:
            for m, z in output.representations.get("pooled", {}).items():
                pooled.setdefault(m, []).append(z.float().cpu().numpy())
            for k, v in output.diagnostics.items():
                if isinstance(v, torch.Tensor) and v.ndim >= 1 and v.shape[0] == batch.size:
                    diagnostics.setdefault(k, []).append(v.float().cpu().numpy())
    return SplitPredictions(
        ids, np.concatenate(scores), np.concatenate(labels),
        {m: np.concatenate(v) for m, v in pooled.items()},
        {k: np.concatenate(v) for k, v in diagnostics.items()},
    )


def split_metrics(predictions: SplitPredictions, task: TaskSpec) -> dict[str, float]:
    """The metrics of ``task``'s metric set on gathered predictions."""
    return compute_metrics(task.metrics, predictions.scores, predictions.labels)


def evaluate_split(predictor: Predictor, split: SplitData, task: TaskSpec, batch_size: int = 256, *,
                   perturb: Perturbation | None = None, seed: int | None = None) -> dict[str, float]:
    """The metrics of ``predictor`` on ``split`` (optionally under ``perturb``)."""
    return split_metrics(predict_split(predictor, split, task, batch_size=batch_size, perturb=perturb, seed=seed),
                         task)


def alignment_report(predictions: SplitPredictions) -> dict[str, float]:
    """Cross-modal retrieval (R@1/5/10, MedR per ordered modality pair) and mean σ₁/√M of the pooled
    per-modality embeddings; empty when the model exposes fewer than two of equal size."""
    from mmaffect.metrics.retrieval import alignment_score, cross_modal_retrieval

    pooled = predictions.pooled
    if len(pooled) < 2 or len({v.shape[-1] for v in pooled.values()}) != 1:
        return {}
    return {"alignment": alignment_score(pooled), **cross_modal_retrieval(pooled)}
