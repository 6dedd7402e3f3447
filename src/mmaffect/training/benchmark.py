"""Benchmark grids: cells (model × data × options) × seeds, resumable, one comparison table and plots.

A cell whose folder already holds ``summary.json`` is skipped, so an interrupted grid resumes.
Spec (YAML, or built from flags)::

    out: results/mosi
    data_root: ../shared/data
    seeds: [1111, 1112, 1113]
    metrics: [non0_acc2, non0_f1, mae, corr]      # optional: columns of the table
    runs:
      - {label: "EF (MiniLM+A+V)", model: early_fusion, data: mosi_native, modalities: [text_minilm, audio, vision]}
      - {label: "TFN", model: tfn, data: mosi_native, set: ["optim.lr=5e-4"]}
    models: [lmf, mult]          # optional cross product with `datasets`
    datasets: [synthetic]
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from mmaffect.metrics import METRIC_DIRECTIONS
from mmaffect.training.checkpoint import atomic_write_text
from mmaffect.training.results import csv_text, markdown_table


class CellSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    data: str
    label: str | None = None
    modalities: list[str] | None = None
    set: list[str] = Field(default_factory=list)
    config: str | None = None

    @property
    def name(self) -> str:
        mods = f" [{'+'.join(self.modalities)}]" if self.modalities else ""
        return self.label or f"{self.model} on {Path(self.data).name}{mods}"


class BenchmarkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out: str = "results/benchmark"
    data_root: str | None = None
    seeds: list[int] = Field(default_factory=lambda: [1111, 1112, 1113])
    metrics: list[str] | None = None
    runs: list[CellSpec] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    set: list[str] = Field(default_factory=list)

    def cells(self) -> list[CellSpec]:
        crossed = [CellSpec(model=m, data=d, set=list(self.set)) for d in self.datasets for m in self.models]
        cells = [c.model_copy(update={"set": [*self.set, *c.set]}) for c in self.runs] + crossed
        names = [c.name for c in cells]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"benchmark cells need unique labels; repeated: {dupes}")
        return cells


def load_spec(path: str | Path) -> BenchmarkSpec:
    raw = yaml.safe_load(Path(path).read_text()) or {}
    try:
        return BenchmarkSpec(**raw)
    except Exception as err:  # pydantic names the bad key
        raise ValueError(f"{path}: {err}") from None


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _run_cell(cell: CellSpec, seeds: list[int], data_root: str | None, directory: str, threads: int) -> str:
    import torch

    from mmaffect import api

    if threads:
        torch.set_num_threads(threads)
    overrides = list(cell.set)
    if cell.modalities:
        overrides.append(f"data.modalities={json.dumps(cell.modalities)}")
    api.train(cell.model, cell.data, data_root=data_root, config_file=cell.config, overrides=overrides,
              seeds=seeds, out_dir=directory)
    return directory


def run_benchmark(spec: BenchmarkSpec, *, jobs: int = 1, log=print) -> Path:
    """Run every unfinished cell (``jobs`` processes at a time), then write the table and plots."""
    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "benchmark.yaml", yaml.safe_dump(spec.model_dump(), sort_keys=False))
    todo = []
    for cell in spec.cells():
        directory = out / slug(cell.name)
        if (directory / "summary.json").is_file():
            log(f"skip (done): {cell.name}")
            continue
        todo.append((cell, str(directory)))
    if jobs <= 1:
        for cell, directory in todo:
            log(f"run: {cell.name}")
            _run_cell(cell, spec.seeds, spec.data_root, directory, 0)
            write_table(spec, out)  # the table grows as cells finish
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_run_cell, c, spec.seeds, spec.data_root, d, threads): c for c, d in todo}
            for future, cell in futures.items():
                future.result()
                log(f"done: {cell.name}")
                write_table(spec, out)
    write_table(spec, out)
    return out


def collect(spec: BenchmarkSpec, out: Path) -> list[tuple[CellSpec, dict[str, Any]]]:
    rows = []
    for cell in spec.cells():
        path = out / slug(cell.name) / "summary.json"
        if path.is_file():
            rows.append((cell, json.loads(path.read_text())))
    return rows


def write_table(spec: BenchmarkSpec, out: Path) -> str:
    """``table.md`` / ``table.csv``: mean ± std per metric; the best value of each column in bold."""
    rows = collect(spec, out)
    if not rows:
        return ""
    metrics = spec.metrics or list(rows[0][1]["metrics"])
    best: dict[str, float] = {}
    for metric in metrics:
        values = [s["metrics"][metric]["mean"] for _, s in rows if metric in s["metrics"]]
        if values:
            best[metric] = (min if METRIC_DIRECTIONS.get(metric, "max") == "min" else max)(values)
    header = ["run", "model", "seeds", *metrics]
    md_rows, csv_rows = [], []
    for cell, summary in rows:
        cells_md, cells_csv = [], []
        for metric in metrics:
            stats = summary["metrics"].get(metric)
            if stats is None:
                cells_md.append("–"); cells_csv += ["", ""]
                continue
            text = f"{stats['mean']:.3f} ± {stats['std']:.3f}"
            cells_md.append(f"**{text}**" if abs(stats["mean"] - best[metric]) < 1e-12 else text)
            cells_csv += [f"{stats['mean']:.4f}", f"{stats['std']:.4f}"]
        n = str(len(summary["seeds"]))
        md_rows.append([cell.name, cell.model, n, *cells_md])
        csv_rows.append([cell.name, cell.model, n, *cells_csv])
    md = markdown_table(header, md_rows)
    atomic_write_text(out / "table.md", md)
    csv_header = ["run", "model", "seeds", *[f"{m}_{s}" for m in metrics for s in ("mean", "std")]]
    atomic_write_text(out / "table.csv", csv_text(csv_header, csv_rows))
    plot_bars(rows, metrics, out / "metrics.png")
    return md


def plot_bars(rows: list[tuple[CellSpec, dict[str, Any]]], metrics: list[str], path: Path) -> None:
    """One panel per metric: a bar per run with its std as the error bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [cell.name for cell, _ in rows]
    ncols = min(4, len(metrics))
    nrows = -(-len(metrics) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols + 2.5, (0.3 * len(names) + 1.2) * nrows),
                             squeeze=False)
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    colors = plt.cm.tab10.colors
    for index, (ax, metric) in enumerate(zip(axes.flat, metrics)):
        means = [s["metrics"].get(metric, {}).get("mean", float("nan")) for _, s in rows]
        stds = [s["metrics"].get(metric, {}).get("std", 0.0) for _, s in rows]
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
        arrow = "↓" if METRIC_DIRECTIONS.get(metric) == "min" else "↑"
        ax.set_title(f"{metric} {arrow}")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    from mmaffect.io import save_figure

    save_figure(fig, path)
