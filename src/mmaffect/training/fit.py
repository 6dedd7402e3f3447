"""Fit one model for one seed with the generic task; keep the best validation epoch."""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data.recipes import recipes_for
from mmaffect.data.loader import make_loader
from mmaffect.errors import ConfigError
from mmaffect.evaluation.inference import alignment_report, predict_split, split_metrics
from mmaffect.metrics import METRIC_DIRECTIONS
from mmaffect.metrics.policy import direction, selection_metric
from mmaffect.models.base import build_model
from mmaffect.models.predictor import Predictor
from mmaffect.objectives.registry import build_objective
from mmaffect.training.checkpoint import WEIGHTS, save_weights, write_description
from mmaffect.training.config import RunConfig
from mmaffect.training.task import AffectTask
from mmaffect.types import TaskSpec


def monitor_metric(config: RunConfig, task: TaskSpec) -> tuple[str, str]:
    """The validation metric used for model selection and its direction (``min`` or ``max``); ``auto``
    is the selection metric of the task's metric set (:mod:`mmaffect.metrics.policy`)."""
    name = config.optim.monitor
    if name == "auto":
        name = selection_metric(task.metrics)
    if name != "loss" and name not in METRIC_DIRECTIONS:
        raise ConfigError(f"optim.monitor={name!r} is not a metric; choose from {sorted(METRIC_DIRECTIONS)} or 'loss'")
    return name, direction(name)


class BestWeights(Callback):
    """Saves the weights whenever ``val/<monitor>`` improves (safetensors, written atomically)."""

    def __init__(self, monitor: str, mode: str, path: Path) -> None:
        self.monitor, self.mode, self.path = f"val/{monitor}", mode, path
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1

    def on_validation_end(self, trainer: L.Trainer, module: AffectTask) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        better = value < self.best if self.mode == "min" else value > self.best
        if better or self.best_epoch < 0:
            self.best, self.best_epoch = value, trainer.current_epoch
            if trainer.is_global_zero:
                save_weights(module.predictor, self.path)


class History(Callback):
    """Per-epoch train and validation metrics (for the learning curves)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: AffectTask) -> None:
        row = {"epoch": trainer.current_epoch}
        row.update({k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1})
        self.rows.append(row)


@dataclass
class SeedResult:
    seed: int
    directory: Path
    metrics: dict[str, dict[str, float]]
    best_epoch: int
    epochs: int
    train_seconds: float
    samples_per_second: float
    history: list[dict[str, float]] = field(default_factory=list)
    is_main_process: bool = True


def build_predictor(config: RunConfig, bundle: DatasetBundle) -> Predictor:
    model = build_model(config.model, bundle.dims(), bundle.task, config.model_params)
    predictor = Predictor(model, config.data.standardize, config.data.modality_dropout)
    if predictor.standardizer is not None:
        train = bundle.split("train")
        predictor.standardizer.fit(train.features, train.lengths)
    return predictor


def _quiet_lightning() -> None:
    """Keep the console for results: Lightning's banners and tips go to WARNING level."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*all_gather is deprecated.*")


def _make_trainer(**options: Any) -> L.Trainer:
    """A Lightning trainer; its refusal of a setting (devices, strategy, ...) becomes a :class:`ConfigError`."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        return L.Trainer(**options)
    except (MisconfigurationException, ValueError) as err:
        raise ConfigError(f"training settings refused (devices={options.get('devices')!r}, "
                          f"strategy={options.get('strategy')!r}): {str(err).splitlines()[0]}") from None


def fit_seed(config: RunConfig, bundle: DatasetBundle, seed: int, directory: Path, *,
             callbacks: list[Callback] | None = None) -> SeedResult:
    """Train on ``train``, select on ``valid``, then score the best epoch on every split (the test split
    once, keeping its pooled representations for the alignment report)."""
    _quiet_lightning()
    L.seed_everything(seed, workers=True, verbose=False)
    directory.mkdir(parents=True, exist_ok=True)
    predictor = build_predictor(config, bundle)
    objectives = [build_objective(name, **params) for name, params in config.objectives.items()]
    module = AffectTask(predictor, bundle.task, objectives, config.optim)
    monitor, mode = monitor_metric(config, bundle.task)
    best = BestWeights(monitor, mode, directory / WEIGHTS)
    history = History()
    classification = bundle.task.kind == "classification"
    train_loader = make_loader(bundle.split("train"), classification=classification,
                               batch_size=config.optim.batch_size, shuffle=True, seed=seed)
    valid_loader = make_loader(bundle.split("valid"), classification=classification,
                               batch_size=max(config.optim.batch_size, 256), shuffle=False)
    trainer = _make_trainer(
        accelerator="cpu" if not torch.cuda.is_available() else "auto",
        devices=config.devices,
        strategy=config.strategy,
        max_epochs=config.optim.max_epochs,
        gradient_clip_val=config.optim.grad_clip or None,
        callbacks=[best, history, EarlyStopping(f"val/{monitor}", mode=mode, patience=config.optim.patience),
                   *(callbacks or [])],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic="warn",
    )
    start = time.perf_counter()
    trainer.fit(module, train_loader, valid_loader)
    seconds = time.perf_counter() - start
    epochs = trainer.current_epoch
    samples = len(bundle.split("train")) * max(epochs, 1)
    if not trainer.is_global_zero:
        return SeedResult(seed, directory, {}, best.best_epoch, epochs, seconds, 0.0, history.rows, False)
    from safetensors.torch import load_file

    predictor.load_state_dict(load_file(str(directory / WEIGHTS)))
    predictor.cpu()
    metrics: dict[str, dict[str, float]] = {}
    for name, split in bundle.splits.items():  # one pass per split; the test pass also keeps the pooled
        predictions = predict_split(predictor, split, bundle.task, keep_pooled=name == "test")
        metrics[name] = split_metrics(predictions, bundle.task)
        report = alignment_report(predictions) if name == "test" else {}
        if report:
            metrics["test_alignment"] = report
    write_description(
        directory,
        model=config.model, model_params=config.model_params, dims=bundle.dims(),
        task=bundle.task.model_dump(), dataset=bundle.name, standardize=config.data.standardize,
        seed=seed, best_epoch=best.best_epoch, monitor=monitor, metrics=metrics, recipes=recipes_for(bundle),
    )
    return SeedResult(seed, directory, metrics, best.best_epoch, epochs, seconds, samples / seconds, history.rows)


def describe_environment() -> dict[str, Any]:
    import os
    import platform
    import sys

    import lightning
    import numpy

    return {
        "python": sys.version.split()[0], "platform": platform.platform(), "processor": platform.processor(),
        "cpu_count": os.cpu_count(), "torch": torch.__version__, "lightning": lightning.__version__,
        "numpy": numpy.__version__, "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
