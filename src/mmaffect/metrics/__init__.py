"""Benchmark metrics with the community's exact definitions (MMSA for MOSI/MOSEI/SIMS; sklearn)."""

from __future__ import annotations

from typing import Any, Callable

from mmaffect.metrics.classification import binary_metrics, classification_metrics
from mmaffect.metrics.msa import msa_metrics
from mmaffect.metrics.sims import sims_metrics

MetricFn = Callable[[Any, Any], dict[str, float]]

METRIC_SETS: dict[str, MetricFn] = {
    "msa": msa_metrics,
    "sims": sims_metrics,
    "classification": classification_metrics,
    "binary": binary_metrics,
}

#: Whether a larger (``"max"``) or smaller (``"min"``) value of each metric is better.
METRIC_DIRECTIONS: dict[str, str] = {
    **{k: "max" for k in ("has0_acc2", "has0_f1", "non0_acc2", "non0_f1", "acc5", "acc7", "corr")},
    **{k: "max" for k in ("acc2", "acc3", "f1")},
    **{k: "max" for k in ("acc", "weighted_f1", "macro_f1", "micro_f1", "auroc")},
    "mae": "min",
}


def compute_metrics(metric_set: str, pred: Any, label: Any) -> dict[str, float]:
    """The metrics of ``metric_set`` (``msa``, ``sims``, ``classification`` or ``binary``) as plain floats."""
    if metric_set not in METRIC_SETS:
        raise ValueError(f"unknown metric set {metric_set!r}; choose one of {sorted(METRIC_SETS)}")
    return METRIC_SETS[metric_set](pred, label)


__all__ = [
    "METRIC_DIRECTIONS", "METRIC_SETS", "binary_metrics", "classification_metrics", "compute_metrics",
    "msa_metrics", "sims_metrics",
]
