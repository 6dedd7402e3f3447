"""Alignment diagnostics of a trained model on a split: per pair of modalities the linear CKA and the
mean cosine of the pooled embeddings, σ₁/√M, the per-sample diagnostics the model returns (e.g. ``rd``:
energies of L and each S, attention weights), and the split-level diagnostics the model computes
itself through :meth:`AffectModel.split_diagnostics` (e.g. DecAlign's transport-plan entropy)."""

from __future__ import annotations

import itertools

import numpy as np

from mmaffect.evaluation.inference import SplitPredictions
from mmaffect.models.base import AffectModel


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al., ICML 2019): ``||Yᶜᵀ Xᶜ||_F² / (||Xᶜᵀ Xᶜ||_F ||Yᶜᵀ Yᶜ||_F)`` on centred rows."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    num = np.linalg.norm(y.T @ x) ** 2
    den = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(num / den) if den > 0 else 0.0


def mean_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """``mean_i <x_i, y_i> / (||x_i|| ||y_i||)`` (needs equal widths)."""
    nx = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return float(np.mean((x * y).sum(1) / np.maximum(nx, 1e-12)))


def alignment_diagnostics(pred: SplitPredictions, model: AffectModel | None = None) -> dict:
    """``{"pairs": {"a~b": {"linear_cka", "mean_cosine"}}, "sigma1_over_sqrtM", "model": {...}}``."""
    from mmaffect.metrics.retrieval import alignment_score

    pooled = pred.pooled
    out: dict = {"pairs": {}}
    for a, b in itertools.combinations(sorted(pooled), 2):
        entry = {"linear_cka": linear_cka(pooled[a], pooled[b])}
        if pooled[a].shape[1] == pooled[b].shape[1]:
            entry["mean_cosine"] = mean_cosine(pooled[a], pooled[b])
        out["pairs"][f"{a}~{b}"] = entry
    if len(pooled) >= 2 and len({v.shape[1] for v in pooled.values()}) == 1:
        out["sigma1_over_sqrtM"] = alignment_score(pooled)
    model_diag = {}
    for key, value in pred.diagnostics.items():
        value = np.asarray(value, dtype=float)
        model_diag[key] = ({"mean": float(value.mean())} if value.ndim == 1
                           else {"mean": value.reshape(len(value), -1).mean(0).tolist()})
    if model is not None:
        model_diag.update(model.split_diagnostics(pooled))
    out["model"] = model_diag
    return out
