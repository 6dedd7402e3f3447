"""CH-SIMS regression metrics, as defined in MMSA (``MetricsTop.__eval_sims_regression``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from mmaffect.metrics._common import pearson, regression_pair
from mmaffect.metrics.msa import multiclass_acc

#: Bin edges of MMSA; class ``i`` is the half-open interval ``(edges[i], edges[i + 1]]``.
SIMS_EDGES = {
    2: (-1.01, 0.0, 1.01),
    3: (-1.01, -0.1, 0.1, 1.01),
    5: (-1.01, -0.7, -0.1, 0.1, 0.7, 1.01),
}


def sims_bins(x: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Class index ``i`` such that ``edges[i] < x <= edges[i + 1]`` (``x`` already clipped to [-1, 1])."""
    return np.digitize(x, np.asarray(edges), right=True) - 1


def sims_metrics(pred: Any, label: Any) -> dict[str, float]:
    """SIMS metrics: ``p, y`` clipped to [-1, 1], then

    - ``acc2 / acc3 / acc5 = mean(bin(p) == bin(y))`` with the half-open bins ``(lo, hi]`` of
      :data:`SIMS_EDGES` (e.g. 2 classes: [-1, 0] and (0, 1]);
    - ``f1`` = weighted F1 (sklearn) of the 2-class bins;
    - ``mae = mean|p - y|`` and ``corr`` = Pearson r (0.0 when a side is constant), on the clipped values.
    """
    p, y = regression_pair(pred, label)
    p, y = np.clip(p, -1.0, 1.0), np.clip(y, -1.0, 1.0)
    bins = {k: (sims_bins(p, e), sims_bins(y, e)) for k, e in SIMS_EDGES.items()}
    out = {f"acc{k}": multiclass_acc(bp, by) for k, (bp, by) in bins.items()}
    p2, y2 = bins[2]
    out["f1"] = float(f1_score(y2, p2, average="weighted", zero_division=0))
    out["mae"] = float(np.mean(np.abs(p - y)))
    out["corr"] = pearson(p, y)
    return {k: out[k] for k in ("acc2", "acc3", "acc5", "f1", "mae", "corr")}
