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

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmaffect.errors import ConfigError
from mmaffect.io import atomic_write_text
from mmaffect.reporting.benchmark_table import BenchmarkRow, write_benchmark_table


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
            raise ConfigError(f"benchmark cells need unique labels; repeated: {dupes}")
        return cells


def load_spec(path: str | Path) -> BenchmarkSpec:
    raw = yaml.safe_load(Path(path).read_text()) or {}
    try:
        return BenchmarkSpec(**raw)
    except ValidationError as err:  # pydantic names the bad key
        raise ConfigError(f"{path}: {err}") from None


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _run_cell(cell: CellSpec, seeds: list[int], data_root: str | None, directory: str, threads: int) -> str:
    import torch

    from mmaffect.data.registry import load_dataset
    from mmaffect.training.runner import train_model

    if threads:
        torch.set_num_threads(threads)
    overrides = list(cell.set)
    if cell.modalities:
        overrides.append(f"data.modalities={json.dumps(cell.modalities)}")
    bundle = load_dataset(cell.data, data_root=data_root)
    train_model(cell.model, bundle, config_file=cell.config, overrides=overrides, seeds=seeds, out_dir=directory)
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


def collect(spec: BenchmarkSpec, out: Path) -> list[BenchmarkRow]:
    """The finished cells of ``spec`` under ``out``, in the spec's order."""
    rows = []
    for cell in spec.cells():
        path = out / slug(cell.name) / "summary.json"
        if path.is_file():
            rows.append(BenchmarkRow(cell.name, cell.model, json.loads(path.read_text())))
    return rows


def write_table(spec: BenchmarkSpec, out: Path) -> str:
    """``table.md`` / ``table.csv`` and ``metrics.png`` of the finished cells."""
    return write_benchmark_table(collect(spec, out), out, spec.metrics)
