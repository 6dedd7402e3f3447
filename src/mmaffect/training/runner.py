"""Multi-seed training runs and their results folder; :func:`train_model` is the whole verb
(dataset-chosen config, then every seed)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from mmaffect.data.bundle import DatasetBundle
from mmaffect.errors import ConfigError, DataError
from mmaffect.io import atomic_write_text
from mmaffect.metrics.policy import direction, selection_metric
from mmaffect.reporting.plots import plot_learning_curves
from mmaffect.reporting.tables import aggregate, write_run_results
from mmaffect.training.config import RunConfig, config_source, dump_config, resolve_config
from mmaffect.training.fit import SeedResult, describe_environment, fit_seed, monitor_metric
from mmaffect.training.progress import RunProgress, progress_default
from mmaffect.training.run_folder import claim_run_folder, finished_seed


@dataclass
class RunResult:
    directory: Path
    summary: dict[str, Any]
    seeds: list[SeedResult]
    config_source: str = ""


RUN_DIR_ENV = "MMAFFECT_RUN_DIR"


def _is_ddp_worker() -> bool:
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


def default_run_dir(config: RunConfig, bundle: DatasetBundle, root: str | Path = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.model}_{bundle.name}_{stamp}"


def dataset_key(bundle: DatasetBundle) -> str:
    """What picks a config's dataset section: the loaded dataset's family (e.g. ``mosi``), else its name."""
    return bundle.family or bundle.name


def config_for(model: str, bundle: DatasetBundle, *, config_file: str | Path | None = None,
               overrides: list[str] | None = None, seeds: list[int] | None = None, devices: int | None = None,
               strategy: str | None = None) -> tuple[RunConfig, str]:
    """The run configuration of ``model`` on the loaded ``bundle``, and in words which section applied."""
    key = dataset_key(bundle)
    config = resolve_config(model, key, config_file=config_file, overrides=overrides)
    changes: dict[str, Any] = {}
    if seeds is not None:
        changes["seeds"] = list(seeds)
    if devices is not None:
        changes["devices"] = devices
    if strategy is not None:
        changes["strategy"] = strategy
    if changes:
        try:
            config = RunConfig.model_validate({**config.model_dump(), **changes})
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise ConfigError(f"invalid options for {model!r}: {problems}") from None
    return config, config_source(model, key)


def train_model(model: str, bundle: DatasetBundle, *, config: RunConfig | None = None,
                config_file: str | Path | None = None, overrides: list[str] | None = None,
                seeds: list[int] | None = None, out_dir: str | Path | None = None, devices: int | None = None,
                strategy: str | None = None, progress: bool | None = None, replace: bool = False,
                log: Callable[[str], None] | None = None) -> RunResult | None:
    """Resolve the configuration from the loaded dataset (unless ``config`` is given), say which section
    applied through ``log``, and train every seed (:func:`run_training`)."""
    source = "config: given"
    if config is None:
        config, source = config_for(model, bundle, config_file=config_file, overrides=overrides, seeds=seeds,
                                    devices=devices, strategy=strategy)
    if log is not None and not _is_ddp_worker():
        log(source)
    result = run_training(config, bundle, out_dir, progress=progress, replace=replace,
                          log=log if not _is_ddp_worker() else None)
    if result is not None:
        result.config_source = source
    return result


def _best_seed(results: list[SeedResult], monitor: str, metric_set: str) -> SeedResult:
    """The seed with the best validation value of the monitored metric; when model selection monitors
    the loss (not kept per seed), the metric set's selection metric decides."""
    key = monitor if monitor != "loss" else selection_metric(metric_set)
    pick = min if direction(key) == "min" else max
    return pick(results, key=lambda r: r.metrics["valid"][key])


def require_splits(bundle: DatasetBundle) -> None:
    """Training needs samples in train, valid and test: refuse an empty or absent split by name."""
    sizes = {name: len(bundle.splits[name]) if name in bundle.splits else None for name in ("train", "valid", "test")}
    bad = [f"{name!r} is {'absent' if n is None else 'empty'}" for name, n in sizes.items() if not n]
    if bad:
        raise DataError(f"dataset {bundle.name!r}: split {', '.join(bad)}; training needs samples in "
                        f"train, valid and test (sizes: {sizes})")


def run_training(config: RunConfig, bundle: DatasetBundle, out_dir: str | Path | None = None, *,
                 progress: bool | None = None, replace: bool = False,
                 log: Callable[[str], None] | None = None) -> RunResult | None:
    """Train one model per seed, then write the results folder; returns None on non-main DDP processes.

    Layout: ``seed_<s>/`` (checkpoint + metrics), ``results.csv``, ``summary.{csv,md,json}``,
    ``config.yaml``, ``run.json``, ``environment.json``, ``learning_curve.png``.

    An existing folder of the same configuration and data resumes: a seed whose ``metrics.json`` exists
    (written atomically, last) is read back, not trained again. A folder of another configuration is
    refused (:class:`RunFolderError` naming the differing keys) unless ``replace``.
    """
    bundle.require_features()
    bundle = bundle.with_modalities(config.data.modalities)
    require_splits(bundle)
    directory = Path(out_dir or os.environ.get(RUN_DIR_ENV) or default_run_dir(config, bundle))
    if config.devices > 1:  # DDP workers re-run the command: they must find the same folder
        os.environ[RUN_DIR_ENV] = str(directory)
    if not _is_ddp_worker():
        claim_run_folder(directory, config, bundle, replace=replace)
        atomic_write_text(directory / "config.yaml", dump_config(config))
    results: list[SeedResult] = []
    with RunProgress(enabled=progress_default(progress) and not _is_ddp_worker(), seeds=config.seeds,
                     max_epochs=config.optim.max_epochs) as bar:
        for seed in config.seeds:
            done = None if _is_ddp_worker() else finished_seed(directory / f"seed_{seed}", seed)
            if done is not None:
                if log is not None:
                    log(f"seed {seed}: already trained in {done.directory}, not trained again")
                results.append(done)
                bar.seed_done(seed)
                continue
            result = fit_seed(config, bundle, seed, directory / f"seed_{seed}", callbacks=bar.callbacks(seed))
            results.append(result)
            bar.seed_done(seed)
            if not result.is_main_process:  # DDP workers train every seed with rank 0 and write nothing
                continue
            atomic_write_text(result.directory / "metrics.json", json.dumps({
                "seed": seed, "best_epoch": result.best_epoch, "epochs": result.epochs,
                "train_seconds": result.train_seconds, "train_samples_per_second": result.samples_per_second,
                "metrics": result.metrics, "history": result.history}, indent=2))
            if log is not None:
                log(f"seed {seed}: trained ({result.epochs} epochs, best {result.best_epoch})")
    if not all(r.is_main_process for r in results):
        return None
    monitor, _ = monitor_metric(config, bundle.task)
    best = _best_seed(results, monitor, bundle.task.metrics)
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
