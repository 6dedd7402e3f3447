"""Figures (matplotlib, Agg backend, saved atomically): learning curves, benchmark bars, robustness
curves, the CKA matrix of a diagnosis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmaffect.io import save_figure
from mmaffect.metrics.policy import direction


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curves(histories: dict[str, list[dict[str, float]]], path: Path, keys: list[str]) -> None:
    """One panel per key (e.g. ``train/loss``, ``val/mae``), one line per run, saved as PNG."""
    keys = [k for k in keys if any(k in row for rows in histories.values() for row in rows)]
    if not keys:
        return
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, rows in histories.items():
            points = [(r["epoch"] + 1, r[key]) for r in rows if key in r]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=2.5, label=label)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_metric_bars(names: list[str], summaries: list[dict[str, Any]], metrics: list[str], path: Path) -> None:
    """One panel per metric: a bar per run (``summaries[i]["metrics"][metric]``) with its std as the error bar."""
    plt = _pyplot()
    ncols = min(4, len(metrics))
    nrows = -(-len(metrics) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols + 2.5, (0.3 * len(names) + 1.2) * nrows),
                             squeeze=False)
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    colors = plt.cm.tab10.colors
    for index, (ax, metric) in enumerate(zip(axes.flat, metrics)):
        means = [s["metrics"].get(metric, {}).get("mean", float("nan")) for s in summaries]
        stds = [s["metrics"].get(metric, {}).get("std", 0.0) for s in summaries]
        ax.barh(range(len(names)), means, xerr=stds, color=[colors[i % 10] for i in range(len(names))],
                capsize=3, alpha=0.85)
        finite = [m for m in means if m == m]
        if finite:
            lo, hi = min(finite), max(finite)
            pad = max((hi - lo) * 0.6, 0.02)
            ax.set_xlim(max(lo - pad, 0) if metric != "corr" else lo - pad, hi + pad)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names if index % ncols == 0 else [], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{metric} {'↓' if direction(metric) == 'min' else '↑'}")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def plot_robustness(report: dict, path: Path) -> None:
    """One curve per modality: the headline metric against the noise level; dotted: the modality missing."""
    primary, levels = report["primary"], report["levels"]
    plt = _pyplot()
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
    save_figure(fig, path)


def plot_cka_matrix(report: dict, path: Path) -> None:
    """The linear CKA between every pair of modalities of a diagnosis, as an annotated matrix."""
    pairs = report["pairs"]
    names = sorted({n for pair in pairs for n in pair.split("~")})
    cka = np.eye(len(names))
    for pair, entry in pairs.items():
        a, b = pair.split("~")
        i, j = names.index(a), names.index(b)
        cka[i, j] = cka[j, i] = entry["linear_cka"]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.4 * len(names) + 2, 1.2 * len(names) + 1.5))
    image = ax.imshow(cka, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{cka[i, j]:.2f}", ha="center", va="center", color="w" if cka[i, j] < 0.6 else "k")
    title = "linear CKA of pooled embeddings"
    if "sigma1_over_sqrtM" in report:
        title += f"\nσ₁/√M = {report['sigma1_over_sqrtM']:.3f}"
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    save_figure(fig, path)
