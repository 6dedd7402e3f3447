"""The public Python API: load data, train, evaluate, predict.

>>> import mmaffect.api as mm
>>> run = mm.train("early_fusion", "synthetic", seeds=[1, 2])          # doctest: +SKIP
>>> mm.evaluate(run.directory, "synthetic")                            # doctest: +SKIP
>>> mm.predict(run.directory, "synthetic", out="predictions.csv")      # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data.registry import load_dataset
from mmaffect.metrics import compute_metrics
from mmaffect.training.checkpoint import Checkpoint, atomic_write_text, load_checkpoint
from mmaffect.training.config import RunConfig, resolve_config
from mmaffect.training.inference import SplitPredictions, predict_split
from mmaffect.training.results import csv_text
from mmaffect.training.runner import RunResult, run_training

DEFAULT_MODEL = "early_fusion"
DEFAULT_DATASET = "synthetic"


def load_data(data: str | Path | DatasetBundle, *, data_root: str | Path | None = None) -> DatasetBundle:
    """A registered dataset name, a native directory, an MMSA/MulT pickle, or an already loaded bundle."""
    if isinstance(data, DatasetBundle):
        return data
    return load_dataset(str(data), data_root=data_root)


def make_config(model: str = DEFAULT_MODEL, data: str | Path | DatasetBundle = DEFAULT_DATASET, *,
                config_file: str | Path | None = None, overrides: list[str] | None = None,
                seeds: list[int] | None = None, devices: int | None = None, strategy: str | None = None) -> RunConfig:
    name = data.name if isinstance(data, DatasetBundle) else str(data)
    config = resolve_config(model, name, config_file=config_file, overrides=overrides)
    changes: dict[str, Any] = {}
    if seeds:
        changes["seeds"] = list(seeds)
    if devices is not None:
        changes["devices"] = devices
    if strategy is not None:
        changes["strategy"] = strategy
    return config.model_copy(update=changes)


def train(model: str = DEFAULT_MODEL, data: str | Path | DatasetBundle = DEFAULT_DATASET, *,
          data_root: str | Path | None = None, config: RunConfig | None = None,
          config_file: str | Path | None = None, overrides: list[str] | None = None,
          seeds: list[int] | None = None, out_dir: str | Path | None = None,
          devices: int | None = None, strategy: str | None = None, progress: bool = False) -> RunResult | None:
    """Train ``model`` on ``data`` for every seed; returns the run (None on non-main DDP processes)."""
    bundle = load_data(data, data_root=data_root)
    if config is None:
        config = make_config(model, data if isinstance(data, DatasetBundle) else str(data),
                             config_file=config_file, overrides=overrides, seeds=seeds, devices=devices,
                             strategy=strategy)
    return run_training(config, bundle, out_dir, progress=progress)


def _checkpoint_and_split(checkpoint: str | Path | Checkpoint, data, split: str, data_root):
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    bundle = load_data(data, data_root=data_root)
    missing = [m for m in ckpt.modalities if m not in bundle.modalities]
    if missing:
        raise ValueError(f"the checkpoint needs modalities {missing}; the data has {bundle.modalities}")
    return ckpt, bundle.with_modalities(ckpt.modalities).split(split)


def evaluate(checkpoint: str | Path | Checkpoint, data: str | Path | DatasetBundle, *, split: str = "test",
             data_root: str | Path | None = None) -> dict[str, float]:
    """The metrics of a checkpoint on one split of ``data``."""
    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root)
    result = predict_split(ckpt.predictor, part, ckpt.task)
    return compute_metrics(ckpt.task.metrics, result.scores, result.labels)


def predict(checkpoint: str | Path | Checkpoint, data: str | Path | DatasetBundle, *, split: str = "test",
            data_root: str | Path | None = None, out: str | Path | None = None) -> SplitPredictions:
    """Predictions for one split; with ``out``, also a CSV (``id, prediction`` or ``id, label, p_<class>...``)."""
    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root)
    result = predict_split(ckpt.predictor, part, ckpt.task)
    if out is not None:
        task = ckpt.task
        if task.kind == "regression":
            header = ["id", "prediction", "label"]
            rows = [[i, f"{p:.6f}", f"{y:.6f}"] for i, p, y in zip(result.ids, result.scores, result.labels)]
        else:
            names = task.label_names or [str(c) for c in range(task.num_classes)]
            header = ["id", "prediction", "label", *[f"p_{n}" for n in names]]
            rows = [[i, names[int(np.argmax(p))], names[int(y)], *[f"{v:.6f}" for v in p]]
                    for i, p, y in zip(result.ids, result.scores, result.labels)]
        atomic_write_text(Path(out), csv_text(header, rows))
    return result


def robustness(checkpoint: str | Path | Checkpoint, data: str | Path | DatasetBundle, *, split: str = "test",
               levels: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0), data_root: str | Path | None = None,
               out_dir: str | Path | None = None) -> dict:
    """Metrics with each modality missing and under Gaussian noise (see :mod:`mmaffect.training.robustness`);
    with ``out_dir``, also ``robustness.{json,md,png}`` there."""
    from mmaffect.training.robustness import evaluate_robustness, write_robustness

    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root)
    report = evaluate_robustness(ckpt.predictor, part, ckpt.task, tuple(levels))
    if out_dir is not None:
        write_robustness(report, Path(out_dir))
    return report


def diagnose(checkpoint: str | Path | Checkpoint, data: str | Path | DatasetBundle, *, split: str = "test",
             data_root: str | Path | None = None, out_dir: str | Path | None = None) -> dict:
    """Alignment diagnostics (CKA, cosine, σ₁/√M, model diagnostics); with ``out_dir``, JSON + figure."""
    from mmaffect.training.diagnostics import alignment_diagnostics, write_diagnostics

    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root)
    report = alignment_diagnostics(predict_split(ckpt.predictor, part, ckpt.task, keep_pooled=True),
                                   model_name=ckpt.description["model"])
    if out_dir is not None:
        write_diagnostics(report, Path(out_dir))
    return report
