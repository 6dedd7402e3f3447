"""Benchmark grids: cells (model × data × options) × seeds, resumable, one comparison table and plots.

A cell whose folder holds ``summary.json`` and a ``cell.json`` with the same key (hash of the resolved
configuration and the dataset identity) is skipped, so an interrupted grid resumes; every cell is
checked before the first one trains.
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

import hashlib
import json
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmaffect.errors import ConfigError
from mmaffect.io import atomic_write_text
from mmaffect.reporting.benchmark_table import BenchmarkRow, write_benchmark_table

CELL_RECORD = "cell.json"


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
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"benchmark spec {path}: no such file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"benchmark spec {path}{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"benchmark spec {path}: expected a mapping (out, seeds, runs, ...)")
    try:
        return BenchmarkSpec(**raw)
    except ValidationError as err:  # pydantic names the bad key
        raise ConfigError(f"{path}: {err}") from None


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def cell_overrides(cell: CellSpec) -> list[str]:
    overrides = list(cell.set)
    if cell.modalities:
        overrides.append(f"data.modalities={json.dumps(cell.modalities)}")
    return overrides


def resolve_cells(spec: BenchmarkSpec) -> list[tuple[CellSpec, str, str]]:
    """Check every cell before any trains, and key it: ``(cell, key, description)``.

    Each cell's dataset is loaded (once per dataset), its model and configuration resolved and validated,
    and its modalities checked against the data. The key is the hash of the resolved configuration
    (seeds included) and the dataset identity, so a rerun with other ``--seeds``/``--set`` is never
    reported as done under the new spec.
    """
    from mmaffect.data.registry import load_dataset
    from mmaffect.errors import MMAffectError
    from mmaffect.training.run_folder import dataset_identity
    from mmaffect.training.runner import config_for

    loaded: dict[str, object] = {}
    out = []
    for cell in spec.cells():
        try:
            if cell.data not in loaded:
                loaded[cell.data] = load_dataset(cell.data, data_root=spec.data_root)
            bundle = loaded[cell.data]
            config, _ = config_for(cell.model, bundle, config_file=cell.config, overrides=cell_overrides(cell),
                                   seeds=spec.seeds)
            bundle.require_features()
            subset = bundle.with_modalities(config.data.modalities)
        except (MMAffectError, KeyError, ValueError, FileNotFoundError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise ConfigError(f"benchmark cell {cell.name!r} (model {cell.model!r}, data {cell.data!r}): "
                              f"{message}") from None
        identity = {"config": config.model_dump(mode="json"), "dataset": dataset_identity(subset)}
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        out.append((cell, key, json.dumps(identity, sort_keys=True)))
    return out


def _run_cell(cell: CellSpec, seeds: list[int], data_root: str | None, directory: str, threads: int | None,
              replace: bool) -> str:
    from mmaffect.data.registry import load_dataset
    from mmaffect.errors import RunFolderError
    from mmaffect.runtime import configure_threads
    from mmaffect.training.runner import train_model

    configure_threads(threads)
    bundle = load_dataset(cell.data, data_root=data_root)
    options = dict(config_file=cell.config, overrides=cell_overrides(cell), seeds=seeds, out_dir=directory,
                   progress=False)
    try:  # finished seeds of the same configuration are kept (only the seed list changed) ...
        train_model(cell.model, bundle, **options)
    except RunFolderError:
        if not replace:
            raise
        train_model(cell.model, bundle, replace=True, **options)  # ... another configuration starts afresh
    return directory


def _cell_key(directory: Path) -> str | None:
    try:
        return json.loads((directory / CELL_RECORD).read_text()).get("key")
    except (OSError, ValueError, AttributeError):
        return None


def run_benchmark(spec: BenchmarkSpec, *, jobs: int = 1, threads: int | None = None, progress: bool | None = False,
                  log=print) -> Path:
    """Check and key every cell, then run every unfinished one (``jobs`` processes at a time), then write
    the table and plots. A cell is done when its folder holds ``summary.json`` and its ``cell.json`` key
    equals the current one; a folder of another key is trained again from scratch (the spec changed)."""
    from mmaffect.runtime import resolve_threads
    from mmaffect.training.progress import GridProgress, progress_default

    cells = resolve_cells(spec)
    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "benchmark.yaml", yaml.safe_dump(spec.model_dump(), sort_keys=False))
    todo = []
    for cell, key, identity in cells:
        directory = out / slug(cell.name)
        old = _cell_key(directory)
        if old == key and (directory / "summary.json").is_file():
            log(f"skip (done): {cell.name}")
            continue
        replace = directory.exists() and old != key
        if replace:
            log(f"rerun (spec changed since {directory} was trained): {cell.name}")
        todo.append((cell, str(directory), key, identity, replace))
    count = resolve_threads(threads)
    keys = {slug(c.name): k for c, k, _ in cells}
    with GridProgress(enabled=progress_default(progress), cells=len(todo)) as bar:
        if jobs <= 1:
            for cell, directory, key, identity, replace in todo:
                log(f"run: {cell.name}")
                _run_cell(cell, spec.seeds, spec.data_root, directory, count, replace)
                _record(Path(directory), key, identity)
                bar.cell_done()
                write_table(spec, out, keys)  # the table grows as cells finish
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(_run_cell, c, spec.seeds, spec.data_root, d, count, r): (c, d, k, i)
                           for c, d, k, i, r in todo}
                for future, (cell, directory, key, identity) in futures.items():
                    future.result()
                    _record(Path(directory), key, identity)
                    log(f"done: {cell.name}")
                    bar.cell_done()
                    write_table(spec, out, keys)
    write_table(spec, out, keys)
    return out


def _record(directory: Path, key: str, identity: str) -> None:
    atomic_write_text(directory / CELL_RECORD, json.dumps({"key": key, "identity": json.loads(identity)}, indent=2))


def collect(spec: BenchmarkSpec, out: Path, keys: dict[str, str] | None = None) -> list[BenchmarkRow]:
    """The finished cells of ``spec`` under ``out``, in the spec's order; with ``keys`` (folder -> key),
    only those trained under the current resolved configuration."""
    rows = []
    for cell in spec.cells():
        directory = out / slug(cell.name)
        path = directory / "summary.json"
        if not path.is_file():
            continue
        if keys is not None and _cell_key(directory) != keys.get(slug(cell.name)):
            continue
        rows.append(BenchmarkRow(cell.name, cell.model, json.loads(path.read_text())))
    return rows


def write_table(spec: BenchmarkSpec, out: Path, keys: dict[str, str] | None = None) -> str:
    """``table.md`` / ``table.csv`` and ``metrics.png`` of the finished cells."""
    return write_benchmark_table(collect(spec, out, keys), out, spec.metrics)
