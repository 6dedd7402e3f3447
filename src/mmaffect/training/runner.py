"""Multi-seed training runs and their results folder."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mmaffect.data.bundle import DatasetBundle
from mmaffect.metrics import METRIC_DIRECTIONS
from mmaffect.training.checkpoint import atomic_write_text
from mmaffect.training.config import RunConfig, dump_config
from mmaffect.training.fit import SeedResult, describe_environment, fit_seed, monitor_metric
from mmaffect.training.results import aggregate, plot_learning_curves, write_run_results


@dataclass
class RunResult:
    directory: Path
    summary: dict[str, Any]
    seeds: list[SeedResult]


RUN_DIR_ENV = "MMAFFECT_RUN_DIR"


def _is_ddp_worker() -> bool:
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


def default_run_dir(config: RunConfig, bundle: DatasetBundle, root: str | Path = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.model}_{bundle.name}_{stamp}"


def run_training(config: RunConfig, bundle: DatasetBundle, out_dir: str | Path | None = None, *,
                 progress: bool = False) -> RunResult | None:
    """Train one model per seed, then write the results folder; returns None on non-main DDP processes.

    Layout: ``seed_<s>/`` (checkpoint + metrics), ``results.csv``, ``summary.{csv,md,json}``,
    ``config.yaml``, ``environment.json``, ``learning_curve.png``.
    """
    bundle = bundle.with_modalities(config.data.modalities)
    directory = Path(out_dir or os.environ.get(RUN_DIR_ENV) or default_run_dir(config, bundle))
    if config.devices > 1:  # DDP workers re-run the command: they must find the same folder
        os.environ[RUN_DIR_ENV] = str(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not _is_ddp_worker():
        atomic_write_text(directory / "config.yaml", dump_config(config))
    results: list[SeedResult] = []
    for seed in config.seeds:
        result = fit_seed(config, bundle, seed, directory / f"seed_{seed}", progress=progress)
        results.append(result)
        if not result.is_main_process:  # DDP workers train every seed with rank 0 and write nothing
            continue
        atomic_write_text(result.directory / "metrics.json", json.dumps({
            "seed": seed, "best_epoch": result.best_epoch, "epochs": result.epochs,
            "train_seconds": result.train_seconds, "train_samples_per_second": result.samples_per_second,
            "metrics": result.metrics, "history": result.history}, indent=2))
    if not all(r.is_main_process for r in results):
        return None
    monitor, mode = monitor_metric(config, bundle.task)
    key = monitor if monitor != "loss" else next(iter(results[0].metrics["valid"]))
    pick = min if (mode if monitor == "loss" else METRIC_DIRECTIONS.get(key, "max")) == "min" else max
    best = pick(results, key=lambda r: r.metrics["valid"][key])
    rows = [{"seed": r.seed, "best_epoch": r.best_epoch, "metrics": r.metrics} for r in results]
    speed = sum(r.samples_per_second for r in results) / len(results)
    extra = {"train_samples_per_second": speed, "monitor": monitor}
    if all("test_alignment" in r.metrics for r in results):
        extra["test_alignment"] = aggregate([r.metrics["test_alignment"] for r in results])
    summary = write_run_results(directory, model=config.model, dataset=bundle.name, seed_rows=rows,
                                best_seed_dir=best.directory.name, extra=extra)
    atomic_write_text(directory / "environment.json", json.dumps(describe_environment(), indent=2))
    plot_learning_curves({f"seed {r.seed}": r.history for r in results}, directory / "learning_curve.png",
                         ["train/loss", *(["val/loss"] if monitor != "mae" else []), f"val/{monitor}"])
    return RunResult(directory, summary, results)
