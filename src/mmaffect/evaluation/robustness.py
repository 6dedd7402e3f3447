"""Robustness of a trained model, as MultiBench measures it (Liang et al., NeurIPS 2021 D&B):
metrics with each modality missing and under Gaussian noise of growing level on each modality.

Noise is added to the standardised inputs, ``x' = x + σ·ε`` with ``ε ~ N(0, I)`` on the real steps,
so ``σ`` is in units of the training standard deviation (for a model trained without
standardisation, in the raw feature scale). A missing modality has all its features set to 0 (the
training mean after standardisation). The robustness score of a modality is MultiBench's relative
robustness: the mean over noise levels of ``metric(σ) / metric(0)`` for the task's headline metric
(:mod:`mmaffect.metrics.policy`; inverted for a metric where smaller is better).

Every condition runs through the one inference loop, on the predictor's own
``standardise → perturb → model`` path.
"""

from __future__ import annotations

import numpy as np
import torch

from mmaffect.data.bundle import SplitData
from mmaffect.evaluation.inference import evaluate_split
from mmaffect.metrics.policy import headline_metric, relative_score
from mmaffect.models.predictor import Perturbation, Predictor
from mmaffect.types import Batch, TaskSpec


def _replace(batch: Batch, modality: str, x: torch.Tensor) -> Batch:
    features = dict(batch.features)
    features[modality] = x * batch.masks[modality].unsqueeze(-1).to(x.dtype)
    return Batch(features, batch.masks, batch.labels, batch.ids, batch.index, batch.text_tokens, batch.extras)


def gaussian_noise(modality: str, level: float) -> Perturbation:
    """``x_m ← x_m + level · ε`` on the real steps of ``modality``."""
    return lambda b: _replace(b, modality, b.features[modality] + level * torch.randn_like(b.features[modality]))


def missing(modality: str) -> Perturbation:
    """``x_m ← 0`` (the training mean after standardisation)."""
    return lambda b: _replace(b, modality, torch.zeros_like(b.features[modality]))


def evaluate_robustness(predictor: Predictor, split: SplitData, task: TaskSpec,
                        levels: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0), seed: int = 0) -> dict:
    """``{"clean", "primary", "missing": {m: metrics}, "noise": {m: {level: metrics}}, "robustness": {m: score}}``."""
    primary = headline_metric(task.metrics)

    def metrics(perturb: Perturbation | None, at_seed: int = 0) -> dict[str, float]:
        return evaluate_split(predictor, split, task, perturb=perturb, seed=at_seed)

    clean = metrics(None)
    report = {"primary": primary, "levels": list(levels), "clean": clean, "missing": {}, "noise": {}, "robustness": {}}
    for m in predictor.model.modalities:
        report["missing"][m] = metrics(missing(m))
        curve = {str(level): metrics(gaussian_noise(m, level), seed) for level in levels}
        report["noise"][m] = curve
        report["robustness"][m] = float(np.mean([relative_score(primary, c[primary], clean[primary])
                                                 for c in curve.values()]))
    report["robustness_mean"] = float(np.mean(list(report["robustness"].values())))
    return report
