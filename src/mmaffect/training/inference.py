"""Plain inference loops (no Lightning): predictions and pooled representations for a split."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from mmaffect.data.bundle import SplitData
from mmaffect.data.loader import make_loader
from mmaffect.metrics import compute_metrics
from mmaffect.models.predictor import Predictor
from mmaffect.types import TaskSpec


@dataclass
class SplitPredictions:
    ids: list[str]
    scores: np.ndarray  # [N] regression, [N, C] class probabilities
    labels: np.ndarray
    pooled: dict[str, np.ndarray] = field(default_factory=dict)
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)


@torch.no_grad()
def predict_split(
    predictor: Predictor, split: SplitData, task: TaskSpec, *, batch_size: int = 256, keep_pooled: bool = False
) -> SplitPredictions:
    predictor.eval()
    device = next(predictor.parameters()).device
    loader = make_loader(split, classification=task.kind == "classification", batch_size=batch_size, shuffle=False)
    scores, labels, ids = [], [], []
    pooled: dict[str, list[np.ndarray]] = {}
    diagnostics: dict[str, list[np.ndarray]] = {}
    for batch in loader:
        output = predictor(batch.to(device))
        pred = output.prediction.float()
        if task.kind == "classification":
            pred = torch.softmax(pred, dim=-1)
        scores.append(pred.cpu().numpy())
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


def evaluate_split(predictor: Predictor, split: SplitData, task: TaskSpec, batch_size: int = 256) -> dict[str, float]:
    result = predict_split(predictor, split, task, batch_size=batch_size)
    return compute_metrics(task.metrics, result.scores, result.labels)


def alignment_report(predictions: SplitPredictions) -> dict[str, float]:
    """Cross-modal retrieval (R@1/5/10, MedR per ordered modality pair) and mean σ₁/√M of the pooled
    per-modality embeddings; empty when the model exposes fewer than two of equal size."""
    from mmaffect.metrics.retrieval import alignment_score, cross_modal_retrieval

    pooled = predictions.pooled
    if len(pooled) < 2 or len({v.shape[-1] for v in pooled.values()}) != 1:
        return {}
    return {"alignment": alignment_score(pooled), **cross_modal_retrieval(pooled)}
