"""CMU-MOSI / CMU-MOSEI regression metrics, as defined in MMSA (``MMSA/utils/metricsTop.py``).

Reference: Yu et al., MMSA toolkit, ``MetricsTop.__eval_mosei_regression`` (also used for MOSI).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from mmaffect.metrics._common import pearson, regression_pair


def multiclass_acc(p: np.ndarray, y: np.ndarray) -> float:
    """``mean(round(p) == round(y))`` with NumPy's round (half to even), as MMSA's ``__multiclass_acc``."""
    return float(np.mean(np.round(p) == np.round(y)))


def msa_metrics(pred: Any, label: Any) -> dict[str, float]:
    """MOSI/MOSEI metrics of sentiment scores ``p`` against labels ``y`` in [-3, 3].

    - ``has0_acc2 = mean([p >= 0] == [y >= 0])`` over all samples, ``has0_f1`` its weighted F1;
    - ``non0_acc2 = mean([p > 0] == [y > 0])`` over samples with ``y != 0``, ``non0_f1`` its weighted F1
      (NaN when every label is 0); papers' "Acc-2 / F1" are these;
    - ``acc5 = mean(round(clip(p, -2, 2)) == round(clip(y, -2, 2)))``, ``acc7`` the same with ±3;
    - ``mae = mean|p - y|`` and ``corr`` = Pearson r (0.0 when a side is constant), both unclipped.

    ``round`` is NumPy's (half to even). F1 is sklearn's ``average="weighted"`` (ill-defined terms count 0).
    """
    p, y = regression_pair(pred, label)
    out: dict[str, float] = {}
    out["has0_acc2"] = float(accuracy_score(y >= 0, p >= 0))
    out["has0_f1"] = float(f1_score(y >= 0, p >= 0, average="weighted", zero_division=0))
    nonzero = y != 0
    if nonzero.any():
        y2, p2 = y[nonzero] > 0, p[nonzero] > 0
        out["non0_acc2"] = float(accuracy_score(y2, p2))
        out["non0_f1"] = float(f1_score(y2, p2, average="weighted", zero_division=0))
    else:
        out["non0_acc2"] = out["non0_f1"] = float("nan")
    out["acc5"] = multiclass_acc(np.clip(p, -2.0, 2.0), np.clip(y, -2.0, 2.0))
    out["acc7"] = multiclass_acc(np.clip(p, -3.0, 3.0), np.clip(y, -3.0, 3.0))
    out["mae"] = float(np.mean(np.abs(p - y)))
    out["corr"] = pearson(p, y)
    return out
