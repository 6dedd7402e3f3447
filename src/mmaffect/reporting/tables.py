"""Results tables: mean ± std aggregation over seeds and the CSV / Markdown / JSON files of a run."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from mmaffect.io import atomic_write_text
from mmaffect.types import TaskSpec


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


def write_predictions_csv(path: Path, task: TaskSpec, ids: list[str], scores: np.ndarray, labels: np.ndarray) -> None:
    """``id, prediction, label`` for regression; ``id, prediction, label, p_<class>...`` for classification."""
    if task.kind == "regression":
        header = ["id", "prediction", "label"]
        rows = [[i, f"{p:.6f}", f"{y:.6f}"] for i, p, y in zip(ids, scores, labels)]
    else:
        names = task.label_names or [str(c) for c in range(task.num_classes)]
        header = ["id", "prediction", "label", *[f"p_{n}" for n in names]]
        rows = [[i, names[int(np.argmax(p))], names[int(y)], *[f"{v:.6f}" for v in p]]
                for i, p, y in zip(ids, scores, labels)]
    atomic_write_text(Path(path), csv_text(header, rows))
