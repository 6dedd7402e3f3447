"""The public Python API: every verb of the package, each one function (the command line is a face over it).

Data: :func:`load_data`, :func:`convert`, :func:`extract`, :func:`describe`, :func:`decompose`.
Models: :func:`train`, :func:`evaluate`, :func:`predict`, :func:`robustness`, :func:`diagnose`.
Grids and results: :func:`benchmark`, :func:`report`. Catalogue: :func:`list_components`.

>>> import mmaffect.api as mm
>>> run = mm.train("early_fusion", "synthetic", seeds=[1, 2])          # doctest: +SKIP
>>> mm.evaluate(run.directory, "synthetic")                            # doctest: +SKIP
>>> mm.predict(run.directory, "synthetic", out="predictions.csv")      # doctest: +SKIP

Heavy or optional parts (dataset jobs, encoders, evaluation, reporting) are imported inside the verbs
that need them, so ``import mmaffect.api`` stays light and a missing extra breaks only its verb.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mmaffect.errors import CheckpointError, ConfigError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from mmaffect.data.bundle import DatasetBundle
    from mmaffect.evaluation.inference import SplitPredictions
    from mmaffect.training.checkpoint import Checkpoint
    from mmaffect.training.config import RunConfig
    from mmaffect.training.grid import BenchmarkSpec
    from mmaffect.training.runner import RunResult

DEFAULT_MODEL = "early_fusion"
DEFAULT_DATASET = "synthetic"
DEFAULT_SEEDS = [1111, 1112, 1113]
Log = Callable[[str], None]

PathLike = str | Path


# ---------------------------------------------------------------- data


def load_data(data: PathLike | DatasetBundle, *, data_root: PathLike | None = None) -> DatasetBundle:
    """A registered dataset name, a native directory, a manifest, an MMSA/MulT pickle, or a loaded bundle."""
    from mmaffect.data.bundle import DatasetBundle
    from mmaffect.data.registry import load_dataset

    if isinstance(data, DatasetBundle):
        return data
    return load_dataset(str(data), data_root=data_root)


def convert(source: PathLike, out_dir: PathLike, *, name: str | None = None,
            data_root: PathLike | None = None, task: str | None = None, metrics: str | None = None,
            split_ratios: tuple[float, float, float] | None = None, split_seed: int | None = None,
            group_by: str | None = None, allow_outside: bool = False) -> DatasetBundle:
    """Write ``source`` (pickle, manifest, native directory or dataset name) as a native dataset at ``out_dir``.

    Manifests only: ``task`` (``regression``/``classification``) and ``metrics`` force what is otherwise
    inferred from the labels; ``split_ratios`` (train, valid, test), ``split_seed`` and ``group_by`` (a
    column such as ``speaker``) split a manifest without a split column; ``allow_outside`` admits media
    paths outside the manifest's folder.
    """
    from mmaffect.jobs.convert import convert_dataset

    return convert_dataset(source, out_dir, name=name, data_root=data_root, task=task, metrics=metrics,
                           split_ratios=split_ratios, split_seed=split_seed, group_by=group_by,
                           allow_outside=allow_outside)


def extract(dataset: PathLike, *, kind: str = "text", encoder: str | None = None, name: str | None = None,
            field: str = "raw_text", batch_size: int = 64, source: str | None = None,
            data_root: PathLike | None = None, pooling: str = "mean", max_tokens: int = 64,
            images_dir: PathLike | None = None, rows: int = 49, columns: int = 64,
            skip_missing: bool = False, replace: bool = False, allow_outside: bool = False) -> Any:
    """Add encoder outputs to the native dataset ``dataset`` (converted first from ``source`` when given).

    ``replace``: compute a text modality of that name again (one made with other settings is otherwise
    refused). ``allow_outside``: admit image paths that lead out of ``images_dir``.

    ``kind="text"``: a text-embedding modality (default encoder all-MiniLM-L6-v2, name ``text_minilm``;
    ``pooling``/``max_tokens``). ``kind="clip"``: a CLIP model's image patch tokens and text token states
    as two ``[rows, columns]`` matrices ``<name>_image`` / ``<name>_text`` (``encoder`` required).
    """
    if kind == "clip":
        from mmaffect.jobs.extract_clip import extract_image_text

        if not encoder:
            raise ConfigError("extract kind 'clip' needs an encoder (a CLIPModel path or name)")
        return extract_image_text(Path(dataset), encoder=encoder, images_dir=images_dir, name=name or "clip",
                                  field=field, rows=rows, columns=columns, batch_size=batch_size,
                                  skip_missing=skip_missing, source=source, data_root=data_root,
                                  allow_outside=allow_outside)
    if kind != "text":
        raise ConfigError(f"unknown extract kind {kind!r}; choose 'text' or 'clip'")
    from mmaffect.jobs.extract import extract_text_modality

    return extract_text_modality(Path(dataset), encoder=encoder or "all-MiniLM-L6-v2", name=name or "text_minilm",
                                 pooling=pooling, max_tokens=max_tokens, batch_size=batch_size, source=source,
                                 data_root=data_root, field=field, replace=replace)


def describe(data: PathLike, describer: str, cache: PathLike, *, out: PathLike | None = None,
             data_root: PathLike | None = None, images_dir: PathLike | None = None, **options: Any) -> DatasetBundle:
    """Describe the images of ``data`` as text fields (``ocr``, ``visual_scene``, ``cross_modal``,
    ``reasoning``) into the JSONL ``cache``; with ``out``, also a native copy carrying them.
    ``options`` go to the describer (e.g. ``model``, ``path``, ``field``, ``prompt``); ``None`` values are dropped."""
    from mmaffect.jobs.describe import describe_data

    options = {k: v for k, v in options.items() if v is not None}
    return describe_data(str(data), describer, cache, out=out, data_root=None if data_root is None else str(data_root),
                         images_dir=None if images_dir is None else str(images_dir), **options)


def decompose(dataset: PathLike, *, modalities: list[str] | None = None, rows: int = 49, columns: int = 64,
              row_fit: str = "repeat", preset: str = "fast", lam: float | None = None, max_iter: int | None = None,
              svt_compat: bool = False, batch_size: int = 256, device: str | None = None,
              replace: bool = False) -> dict | None:
    """Add the joint low-rank + sparse decomposition of ``modalities`` (rd) to a native dataset."""
    from mmaffect.jobs.decompose import decompose_dataset

    return decompose_dataset(Path(dataset), modalities=modalities, rows=rows, columns=columns, row_fit=row_fit,
                             preset=preset, lam=lam, max_iter=max_iter, svt_compat=svt_compat,
                             batch_size=batch_size, device=device, replace=replace)


# ---------------------------------------------------------------- training and evaluation


def make_config(model: str = DEFAULT_MODEL, data: PathLike | DatasetBundle = DEFAULT_DATASET, *,
                data_root: PathLike | None = None, config_file: PathLike | None = None,
                overrides: list[str] | None = None, seeds: list[int] | None = None, devices: int | None = None,
                strategy: str | None = None) -> RunConfig:
    """The run configuration of ``model`` on ``data`` (its dataset section chosen from the loaded data)."""
    from mmaffect.training.runner import config_for

    config, _ = config_for(model, load_data(data, data_root=data_root), config_file=config_file,
                           overrides=overrides, seeds=seeds, devices=devices, strategy=strategy)
    return config


def train(model: str = DEFAULT_MODEL, data: PathLike | DatasetBundle = DEFAULT_DATASET, *,
          data_root: PathLike | None = None, config: RunConfig | None = None,
          config_file: PathLike | None = None, overrides: list[str] | None = None,
          modalities: list[str] | None = None, seeds: list[int] | None = None, out_dir: PathLike | None = None,
          devices: int | None = None, strategy: str | None = None, progress: bool = False,
          log: Log | None = None) -> RunResult | None:
    """Train ``model`` on ``data`` for every seed; returns the run (None on non-main DDP processes).

    ``log`` receives, before training, which config section applied (e.g.
    ``config: decalign.yaml section 'mosi'``); the run carries it as ``run.config_source``.
    """
    import json

    from mmaffect.training.runner import train_model

    overrides = list(overrides or [])
    if modalities:
        overrides.append(f"data.modalities={json.dumps(list(modalities))}")
    bundle = load_data(data, data_root=data_root)
    return train_model(model, bundle, config=config, config_file=config_file, overrides=overrides, seeds=seeds,
                       out_dir=out_dir, devices=devices, strategy=strategy, progress=progress, log=log)


def _checkpoint_and_split(checkpoint: PathLike | Checkpoint, data, split: str, data_root):
    from mmaffect.training.checkpoint import Checkpoint, load_checkpoint

    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    bundle = load_data(data, data_root=data_root)
    missing = [m for m in ckpt.modalities if m not in bundle.modalities]
    if missing:
        raise CheckpointError(f"the checkpoint needs modalities {missing}; the data has {bundle.modalities}")
    return ckpt, bundle.with_modalities(ckpt.modalities).split(split)


def checkpoint_dir(checkpoint: PathLike) -> Path:
    """The checkpoint folder of a checkpoint folder, its JSON, or a run folder (its best seed)."""
    from mmaffect.training.checkpoint import find_checkpoint_dir

    return find_checkpoint_dir(checkpoint)


def evaluate(checkpoint: PathLike | Checkpoint, data: PathLike | DatasetBundle, *, split: str = "test",
             data_root: PathLike | None = None) -> dict[str, float]:
    """The metrics of a checkpoint on one split of ``data``."""
    from mmaffect.evaluation.inference import evaluate_split

    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root)
    return evaluate_split(ckpt.predictor, part, ckpt.task)


def predict(checkpoint: PathLike | Checkpoint, data: PathLike | DatasetBundle, *, split: str = "test",
            data_root: PathLike | None = None, out: PathLike | None = None) -> SplitPredictions:
    """Predictions for one split; with ``out``, also a CSV (``id, prediction`` or ``id, label, p_<class>...``)."""
    from mmaffect.evaluation.inference import predict_split
    from mmaffect.reporting.tables import write_predictions_csv

    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root)
    result = predict_split(ckpt.predictor, part, ckpt.task)
    if out is not None:
        write_predictions_csv(Path(out), ckpt.task, result.ids, result.scores, result.labels)
    return result


def robustness(checkpoint: PathLike | Checkpoint, data: PathLike | DatasetBundle, *, split: str = "test",
               levels: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0), data_root: PathLike | None = None,
               out_dir: PathLike | None = None) -> dict:
    """Metrics with each modality missing and under Gaussian noise (see :mod:`mmaffect.evaluation.robustness`);
    with ``out_dir``, also ``robustness.{json,md,png}`` there."""
    from mmaffect.evaluation.robustness import evaluate_robustness
    from mmaffect.reporting.evaluation_files import write_robustness

    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root)
    report = evaluate_robustness(ckpt.predictor, part, ckpt.task, tuple(levels))
    if out_dir is not None:
        write_robustness(report, Path(out_dir))
    return report


def diagnose(checkpoint: PathLike | Checkpoint, data: PathLike | DatasetBundle, *, split: str = "test",
             data_root: PathLike | None = None, out_dir: PathLike | None = None) -> dict:
    """Alignment diagnostics (CKA, cosine, σ₁/√M, the model's own diagnostics); with ``out_dir``, JSON + figure."""
    from mmaffect.evaluation.diagnostics import alignment_diagnostics
    from mmaffect.evaluation.inference import predict_split
    from mmaffect.reporting.evaluation_files import write_diagnostics

    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root)
    predictions = predict_split(ckpt.predictor, part, ckpt.task, keep_pooled=True)
    report = alignment_diagnostics(predictions, model=ckpt.predictor.model)
    if out_dir is not None:
        write_diagnostics(report, Path(out_dir))
    return report


# ---------------------------------------------------------------- grids, reports, catalogue


def benchmark(spec: PathLike | BenchmarkSpec | None = None, *, models: list[str] | None = None,
              datasets: list[str] | None = None, seeds: list[int] | None = None,
              data_root: PathLike | None = None, overrides: list[str] | None = None, out: PathLike | None = None,
              jobs: int = 1, log: Log = print) -> Path:
    """Run a grid of cells × seeds (a spec file or object, extended by the keyword arguments), resumably;
    returns the folder holding ``table.md``, ``table.csv`` and ``metrics.png``."""
    from mmaffect.training.grid import BenchmarkSpec, load_spec, run_benchmark

    if spec is None:
        spec = BenchmarkSpec()
    elif not isinstance(spec, BenchmarkSpec):
        spec = load_spec(spec)
    update = {k: v for k, v in {"models": models, "datasets": datasets, "seeds": seeds,
                                "data_root": None if data_root is None else str(data_root),
                                "out": None if out is None else str(out)}.items() if v}
    if overrides:
        update["set"] = [*spec.set, *overrides]
    spec = spec.model_copy(update=update)
    if not spec.cells():
        raise ConfigError("nothing to run: give a spec file with `runs`, or models and datasets")
    return run_benchmark(spec, jobs=jobs, log=log)


def report(results_dir: PathLike) -> Path:
    """Write ``report.md`` and ``report.html`` for a run or benchmark folder; returns the Markdown path."""
    from mmaffect.reporting.report import build_report

    return build_report(results_dir)


def list_components() -> dict[str, dict[str, str]]:
    """``{kind: {name: description}}`` for the registries: models, datasets, objectives, encoders, describers."""
    from mmaffect.data.registry import DATASETS
    from mmaffect.encoders.registry import DESCRIBERS, ENCODERS
    from mmaffect.models.base import MODELS
    from mmaffect.objectives.registry import OBJECTIVES

    registries = {"models": MODELS, "datasets": DATASETS, "objectives": OBJECTIVES, "encoders": ENCODERS,
                  "describers": DESCRIBERS}
    return {kind: {name: registry.describe(name) for name in registry.names()} for kind, registry in registries.items()}
