"""Aggregating per-seed results: mean ± std tables (CSV, Markdown, JSON) and learning-curve plots."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from mmaffect.training.checkpoint import atomic_write_text


def aggregate(rows: Iterable[dict[str, float]]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "std", "n"}}`` over rows; std is the sample std (ddof=1), 0 for one row."""
    rows = list(rows)
    keys = [k for k in rows[0] if isinstance(rows[0][k], (int, float))] if rows else []
    out = {}
    for key in keys:
        values = np.array([r[key] for r in rows], dtype=float)
        out[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                    "n": len(values)}
    return out


def format_mean_std(stats: dict[str, float], digits: int = 3) -> str:
    if math.isnan(stats["mean"]):
        return "nan"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_run_results(directory: Path, *, model: str, dataset: str, seed_rows: list[dict[str, Any]],
                      split: str = "test", best_seed_dir: str | None = None, extra: dict[str, Any] | None = None) -> dict:
    """Write ``results.csv`` (one row per seed) and ``summary.{csv,md,json}`` (mean ± std) for ``split``."""
    metric_rows = [r["metrics"][split] for r in seed_rows]
    stats = aggregate(metric_rows)
    metric_names = list(stats)
    per_seed_header = ["seed", "best_epoch", *metric_names]
    per_seed = [[r["seed"], r["best_epoch"], *[f"{r['metrics'][split][k]:.4f}" for k in metric_names]] for r in seed_rows]
    atomic_write_text(directory / "results.csv", csv_text(per_seed_header, per_seed))
    summary_row = [model, dataset, str(len(seed_rows)), *[format_mean_std(stats[k]) for k in metric_names]]
    header = ["model", "dataset", "seeds", *metric_names]
    atomic_write_text(directory / "summary.csv", csv_text(header, [summary_row]))
    md = f"# {model} on {dataset} ({split} split)\n\n" + markdown_table(header, [summary_row])
    md += "\nPer seed:\n\n" + markdown_table(per_seed_header, [[str(c) for c in r] for r in per_seed])
    atomic_write_text(directory / "summary.md", md)
    summary = {"model": model, "dataset": dataset, "split": split, "metrics": stats,
               "seeds": [r["seed"] for r in seed_rows], "best_seed_dir": best_seed_dir, **(extra or {})}
    atomic_write_text(directory / "summary.json", json.dumps(summary, indent=2))
    return summary


def plot_learning_curves(histories: dict[str, list[dict[str, float]]], path: Path, keys: list[str]) -> None:
    """One panel per key (e.g. ``train/loss``, ``val/mae``), one line per run, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in keys if any(k in row for rows in histories.values() for row in rows)]
    if not keys:
        return
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
    from mmaffect.io import save_figure

    save_figure(fig, path)
