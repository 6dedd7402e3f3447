"""Input handling shared by the metric functions: tensors or arrays in, float64 NumPy arrays out."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy view of ``x`` (a torch tensor, NumPy array, list or scalar)."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu()
        if str(x.dtype) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        x = x.numpy()
    return np.asarray(x)


def check_length(pred: np.ndarray, label: np.ndarray, pred_name: str = "pred") -> None:
    if len(pred) != len(label):
        raise ValueError(f"{pred_name} has {len(pred)} values but label has {len(label)}; they must match")
    if len(label) == 0:
        raise ValueError("cannot score an empty set: pred and label have 0 values")


def check_finite(x: np.ndarray, name: str) -> None:
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    if bad:
        raise ValueError(f"{name} contains {bad} non-finite values (NaN or inf) out of {np.size(x)}")


def regression_pair(pred: Any, label: Any) -> tuple[np.ndarray, np.ndarray]:
    """``pred`` and ``label`` as finite float64 vectors of equal length (``[N]`` or ``[N, 1]`` accepted)."""
    p, y = to_numpy(pred), to_numpy(label)
    p = p.reshape(len(p), -1) if p.ndim > 1 else p.reshape(-1)
    y = y.reshape(len(y), -1) if y.ndim > 1 else y.reshape(-1)
    for arr, name in ((p, "pred"), (y, "label")):
        if arr.ndim == 2 and arr.shape[1] != 1:
            raise ValueError(f"{name} must be [N] or [N, 1] for regression metrics, got shape {arr.shape}")
    p, y = p.reshape(-1).astype(np.float64), y.reshape(-1).astype(np.float64)
    check_length(p, y)
    check_finite(p, "pred")
    check_finite(y, "label")
    return p, y


def pearson(p: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation ``cov(p, y) / (std(p) std(y))`` as ``np.corrcoef``; 0.0 when either side is constant."""
    if len(p) < 2 or np.ptp(p) == 0 or np.ptp(y) == 0:
        return 0.0
    r = float(np.corrcoef(p, y)[0, 1])
    return r if np.isfinite(r) else 0.0
