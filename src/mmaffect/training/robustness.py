"""Robustness of a trained model, as MultiBench measures it (Liang et al., NeurIPS 2021 D&B):
metrics with each modality missing and under Gaussian noise of growing level on each modality.

Noise is added to the standardised inputs, ``x' = x + σ·ε`` with ``ε ~ N(0, I)`` on the real steps,
so ``σ`` is in units of the training standard deviation (for a model trained without
standardisation, in the raw feature scale). A missing modality has all its features set to 0 (the
training mean after standardisation). The robustness score of a modality is MultiBench's relative
robustness: the mean over noise levels of ``metric(σ) / metric(0)`` for the task's primary metric.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from mmaffect.data.bundle import SplitData
from mmaffect.data.loader import make_loader
from mmaffect.metrics import METRIC_DIRECTIONS, compute_metrics
from mmaffect.models.predictor import Predictor
from mmaffect.training.checkpoint import atomic_write_text
from mmaffect.types import Batch, TaskSpec

PRIMARY = {"msa": "non0_acc2", "sims": "acc2", "classification": "acc", "binary": "acc"}
Perturb = Callable[[Batch], Batch]


def _replace(batch: Batch, modality: str, x: torch.Tensor) -> Batch:
    features = dict(batch.features)
    features[modality] = x * batch.masks[modality].unsqueeze(-1).to(x.dtype)
    return Batch(features, batch.masks, batch.labels, batch.ids, batch.index, batch.text_tokens, batch.extras)


@torch.no_grad()
def metrics_under(predictor: Predictor, split: SplitData, task: TaskSpec, perturb: Perturb | None,
                  seed: int = 0, batch_size: int = 256) -> dict[str, float]:
    """Metrics of ``predictor`` on ``split`` with ``perturb`` applied to each standardised batch."""
    predictor.eval()
    torch.manual_seed(seed)
    loader = make_loader(split, classification=task.kind == "classification", batch_size=batch_size, shuffle=False)
    scores, labels = [], []
    for batch in loader:
        if predictor.standardizer is not None:
            batch = predictor.standardizer(batch)
        if perturb is not None:
            batch = perturb(batch)
        pred = predictor.model(batch).prediction.float()
        scores.append((torch.softmax(pred, -1) if task.kind == "classification" else pred).numpy())
        labels.append(batch.labels.numpy())
    return compute_metrics(task.metrics, np.concatenate(scores), np.concatenate(labels))


def gaussian_noise(modality: str, level: float) -> Perturb:
    return lambda b: _replace(b, modality, b.features[modality] + level * torch.randn_like(b.features[modality]))


def missing(modality: str) -> Perturb:
    return lambda b: _replace(b, modality, torch.zeros_like(b.features[modality]))


def evaluate_robustness(predictor: Predictor, split: SplitData, task: TaskSpec,
                        levels: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0), seed: int = 0) -> dict:
    """``{"clean", "primary", "missing": {m: metrics}, "noise": {m: {level: metrics}}, "robustness": {m: score}}``."""
    primary = PRIMARY[task.metrics]
    clean = metrics_under(predictor, split, task, None)
    report = {"primary": primary, "levels": list(levels), "clean": clean, "missing": {}, "noise": {}, "robustness": {}}
    for m in predictor.model.modalities:
        report["missing"][m] = metrics_under(predictor, split, task, missing(m))
        curve = {str(level): metrics_under(predictor, split, task, gaussian_noise(m, level), seed) for level in levels}
        report["noise"][m] = curve
        ratios = [c[primary] / clean[primary] if clean[primary] else float("nan") for c in curve.values()]
        if METRIC_DIRECTIONS.get(primary) == "min":
            ratios = [1 / r for r in ratios]
        report["robustness"][m] = float(np.mean(ratios))
    report["robustness_mean"] = float(np.mean(list(report["robustness"].values())))
    return report


def write_robustness(report: dict, directory: Path) -> None:
    """``robustness.json``, ``robustness.md`` and ``robustness.png`` (one curve per modality)."""
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / "robustness.json", json.dumps(report, indent=2))
    primary, levels = report["primary"], report["levels"]
    lines = [f"| condition | {primary} | mae |" if "mae" in report["clean"] else f"| condition | {primary} |",
             "|---|---|---|" if "mae" in report["clean"] else "|---|---|"]

    def row(name: str, metrics: dict) -> str:
        cells = [f"{metrics[primary]:.3f}"] + ([f"{metrics['mae']:.3f}"] if "mae" in metrics else [])
        return f"| {name} | " + " | ".join(cells) + " |"

    lines.append(row("clean", report["clean"]))
    for m, metrics in report["missing"].items():
        lines.append(row(f"{m} missing", metrics))
    for m, curve in report["noise"].items():
        for level, metrics in curve.items():
            lines.append(row(f"{m} + noise σ={level}", metrics))
    lines.append("")
    lines.append("Relative robustness (mean over σ of metric(σ)/metric(0)): " + ", ".join(
        f"{m} {s:.3f}" for m, s in report["robustness"].items()) + f"; mean {report['robustness_mean']:.3f}")
    atomic_write_text(directory / "robustness.md", "\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    xs = [0.0, *levels]
    for m, curve in report["noise"].items():
        ys = [report["clean"][primary], *[curve[str(level)][primary] for level in levels]]
        line, = ax.plot(xs, ys, marker="o", label=f"noise on {m}")
        ax.axhline(report["missing"][m][primary], color=line.get_color(), linestyle=":", linewidth=1,
                   label=f"{m} missing")
    ax.set_xlabel("noise level σ (training standard deviations)")
    ax.set_ylabel(f"test {primary}")
    ax.set_title("Robustness per modality")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    from mmaffect.io import save_figure

    save_figure(fig, directory / "robustness.png")
