"""The one primary-metric policy, keyed on the metric set of a task.

Every metric set names two metrics:

- the **headline** metric, the number the community reports first for the benchmark (MMSA's
  ``non0_acc2`` for MOSI/MOSEI, ``acc2`` for SIMS, accuracy otherwise): robustness ratios and report
  headlines use it;
- the **selection** metric that model selection monitors on the validation split when
  ``optim.monitor`` is ``auto``: ``mae`` for the regression sets (as MMSA selects), accuracy otherwise.

Directions (larger or smaller is better) come from :data:`mmaffect.metrics.METRIC_DIRECTIONS`.
"""

from __future__ import annotations

from typing import Iterable

from mmaffect.metrics import METRIC_DIRECTIONS, METRIC_SETS

HEADLINE: dict[str, str] = {"msa": "non0_acc2", "sims": "acc2", "classification": "acc", "binary": "acc"}
SELECTION: dict[str, str] = {"msa": "mae", "sims": "mae", "classification": "acc", "binary": "acc"}


def _check(metric_set: str) -> None:
    if metric_set not in METRIC_SETS:
        raise ValueError(f"unknown metric set {metric_set!r}; choose one of {sorted(METRIC_SETS)}")


def headline_metric(metric_set: str) -> str:
    """The metric reported first for ``metric_set``."""
    _check(metric_set)
    return HEADLINE[metric_set]


def selection_metric(metric_set: str) -> str:
    """The validation metric that ``optim.monitor: auto`` selects on for ``metric_set``."""
    _check(metric_set)
    return SELECTION[metric_set]


def direction(metric: str) -> str:
    """``"min"`` when a smaller value of ``metric`` is better (``mae``, a loss), else ``"max"``."""
    if metric == "loss" or metric.endswith("/loss"):
        return "min"
    return METRIC_DIRECTIONS.get(metric, "max")


def best_value(metric: str, values: Iterable[float]) -> float:
    """The best of ``values`` for ``metric`` (the smallest for a ``min`` metric, else the largest)."""
    return (min if direction(metric) == "min" else max)(values)


def relative_score(metric: str, value: float, reference: float) -> float:
    """``value / reference`` oriented so that 1 means "as good as the reference" and less means worse
    (inverted for ``min`` metrics); NaN when the reference is 0."""
    if not reference:
        return float("nan")
    ratio = value / reference
    if direction(metric) == "min":
        return 1 / ratio if ratio else float("inf")
    return ratio
