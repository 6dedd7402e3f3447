"""The comparison table of a benchmark grid: ``table.md`` / ``table.csv`` (mean ± std per metric, the
best value of each column in bold, by the metric's direction) and ``metrics.png``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmaffect.io import atomic_write_text
from mmaffect.metrics.policy import best_value
from mmaffect.reporting.plots import plot_metric_bars
from mmaffect.reporting.tables import csv_text, markdown_table


@dataclass
class BenchmarkRow:
    """One finished cell: its display name, its model and its run's ``summary.json``."""

    name: str
    model: str
    summary: dict[str, Any]


def write_benchmark_table(rows: list[BenchmarkRow], out: Path, metrics: list[str] | None = None) -> str:
    """Write the table and the bar plot into ``out``; returns the Markdown ("" when no row is finished)."""
    if not rows:
        return ""
    metrics = metrics or list(rows[0].summary["metrics"])
    best: dict[str, float] = {}
    for metric in metrics:
        values = [r.summary["metrics"][metric]["mean"] for r in rows if metric in r.summary["metrics"]]
        if values:
            best[metric] = best_value(metric, values)
    header = ["run", "model", "seeds", *metrics]
    md_rows, csv_rows = [], []
    for row in rows:
        cells_md, cells_csv = [], []
        for metric in metrics:
            stats = row.summary["metrics"].get(metric)
            if stats is None:
                cells_md.append("–")
                cells_csv += ["", ""]
                continue
            text = f"{stats['mean']:.3f} ± {stats['std']:.3f}"
            cells_md.append(f"**{text}**" if abs(stats["mean"] - best[metric]) < 1e-12 else text)
            cells_csv += [f"{stats['mean']:.4f}", f"{stats['std']:.4f}"]
        n = str(len(row.summary["seeds"]))
        md_rows.append([row.name, row.model, n, *cells_md])
        csv_rows.append([row.name, row.model, n, *cells_csv])
    md = markdown_table(header, md_rows)
    atomic_write_text(out / "table.md", md)
    csv_header = ["run", "model", "seeds", *[f"{m}_{s}" for m in metrics for s in ("mean", "std")]]
    atomic_write_text(out / "table.csv", csv_text(csv_header, csv_rows))
    plot_metric_bars([r.name for r in rows], [r.summary for r in rows], metrics, out / "metrics.png")
    return md
