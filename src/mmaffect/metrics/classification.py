"""Classification metrics: accuracy, weighted / macro / micro F1 and, for two classes, AUROC (sklearn)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from mmaffect.metrics._common import check_finite, check_length, to_numpy


def _class_labels(label: Any, num_classes: int) -> np.ndarray:
    y = to_numpy(label)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"label must be [N] class indices, got shape {y.shape}")
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    if y.dtype.kind == "f":
        check_finite(y, "label")
        if not np.all(y == np.round(y)):
            raise ValueError("label must hold integer class indices, got non-integral floats")
    elif y.dtype.kind not in "iu":
        raise ValueError(f"label must hold integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"label values must lie in [0, {num_classes - 1}], got range [{y.min()}, {y.max()}]")
    return y


def classification_metrics(scores: Any, label: Any, *, threshold: float = 0.5) -> dict[str, float]:
    """Metrics of class ``scores`` against integer ``label``.

    ``scores`` is ``[N, C]`` logits or probabilities (predicted class = argmax), or ``[N]`` / ``[N, 1]``
    positive-class scores of a binary task (predicted class = ``score >= threshold``; pass
    ``threshold=0`` for logits).

    - ``acc = mean(ŷ == y)``; ``weighted_f1`` (IEMOCAP "WAF1"), ``macro_f1``, ``micro_f1`` are sklearn's
      ``f1_score`` over the classes present in ``y`` or ``ŷ``, ill-defined terms counted as 0;
    - ``auroc`` (two classes only) = ``roc_auc_score(y, s)`` with ``s = scores[:, 1] - scores[:, 0]``
      (monotone in the positive-class probability for both logits and probabilities) or the ``[N]``
      scores. When ``y`` holds one class only AUROC is undefined: it is NaN, without an exception.
    """
    s = to_numpy(scores)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim not in (1, 2):
        raise ValueError(f"scores must be [N, C] or [N], got shape {s.shape}")
    s = s.astype(np.float64)
    check_finite(s, "scores")
    num_classes = 2 if s.ndim == 1 else s.shape[1]
    y = _class_labels(label, num_classes)
    check_length(s, y, "scores")
    if s.ndim == 1:
        pred, positive = (s >= threshold).astype(np.int64), s
    else:
        pred = s.argmax(axis=1)
        positive = s[:, 1] - s[:, 0] if num_classes == 2 else None
    out = {
        "acc": float(accuracy_score(y, pred)),
        "weighted_f1": float(f1_score(y, pred, average="weighted", zero_division=0)),
        "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(y, pred, average="micro", zero_division=0)),
    }
    if positive is not None:
        out["auroc"] = float(roc_auc_score(y, positive)) if len(np.unique(y)) == 2 else float("nan")
    return out


def binary_metrics(scores: Any, label: Any, *, threshold: float = 0.5) -> dict[str, float]:
    """:func:`classification_metrics` for a two-class task (``scores`` ``[N]``, ``[N, 1]`` or ``[N, 2]``)."""
    s = to_numpy(scores)
    if s.ndim not in (1, 2) or (s.ndim == 2 and s.shape[1] not in (1, 2)):
        raise ValueError(f"binary metrics need scores [N], [N, 1] or [N, 2], got shape {s.shape}")
    return classification_metrics(s, label, threshold=threshold)
