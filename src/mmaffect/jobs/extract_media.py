"""The media extract job: audio, video or image files of a converted manifest -> a sequence modality.

``mmaffect extract DATA --encoder whisper|egemaps|egemaps-functionals|face|efficientnet-lite0`` on a
native dataset whose splits carry the manifest's ``audio`` / ``video`` / ``image`` paths (text fields;
relative paths are joined to ``media_dir``, default the manifest's folder recorded at conversion, and
may not leave it unless ``allow_outside``). Per file (see :mod:`mmaffect.jobs.media_encoding`): decode
in a thread pool of ``workers``, encode on one thread, store ``[N, T, D]`` float32 with lengths through
:class:`~mmaffect.jobs.resumable.ResumableArrays` (resumed after a kill, settings recorded, another
setting refused or started over). ``T`` is sized before the run from the durations the files declare
(the longest, capped by ``max_seconds``).

**Failed files** (missing, undecodable, no audio track, no face in any frame, zero length, too short,
longer than ``max_seconds`` without ``truncate``) never stop the job and never become a silent zero
row: the sample is stored with **length 0** (all-zero rows, masked out by every model: the masked mean
of an all-padding row is 0), counted by kind, listed per file in ``<dataset>/<name>.failures.json``
(``{split: {id: {"file", "kind", "error"}}}``) and printed. ``strict=True`` stops at the first failure
instead (with the file, split and sample id; the finished batches are kept for a resumed run).

Whisper also writes the transcript of every file as the text field ``transcript`` (and as ``raw_text``
when the dataset has no text); a failed file's transcript is empty. Each modality records its recipe
(:mod:`mmaffect.data.recipes`) before it is added: the encoder's recipe and the job's parameters.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from mmaffect.errors import ConfigError, DataError, DataFileNotFoundError, MediaError
from mmaffect.jobs.convert import ensure_native
from mmaffect.jobs.media_encoding import DEFAULT_NAMES, INPUTS, MediaEncoding, MediaSettings, failure_kind
from mmaffect.jobs.resumable import (
    ResumableArrays, check_completed, check_output_name, progress_bar, record_settings, remove_if_empty,
    write_json_atomic,
)

TRANSCRIPT_FIELD = "transcript"
FAILURES = (MediaError, DataFileNotFoundError)


def media_root(dataset_dir: Path, bundle: Any, media_dir: str | Path | None) -> Path:
    """The folder relative media paths are joined to: ``media_dir``, else the converted manifest's folder."""
    if media_dir is not None:
        root = Path(media_dir)
    else:
        source = (bundle.provenance or {}).get("source")
        if not source:
            raise ConfigError(f"{dataset_dir}: the dataset does not record its manifest; pass --images-dir "
                              f"with the folder its media paths are relative to")
        root = Path(source) if Path(source).is_dir() else Path(source).parent
    if not root.is_dir():
        raise DataFileNotFoundError(f"media folder {root} does not exist; pass --images-dir with the folder the "
                                    f"dataset's media paths are relative to")
    return root.resolve()


def choose_column(bundle: Any, encoder: str, column: str | None) -> str:
    """The media column to read: ``column``, else the first of the encoder's inputs the dataset has."""
    split = next(iter(bundle.splits.values()))
    have = [c for c in INPUTS[encoder] if c in split.texts and any(split.texts[c])]
    if column is not None:
        if column not in INPUTS[encoder]:
            raise ConfigError(f"--column {column}: encoder {encoder!r} reads {' or '.join(INPUTS[encoder])}")
        have = [column] if column in split.texts else []
    if not have:
        raise DataError(f"dataset {bundle.name!r} has no {' or '.join(INPUTS[encoder])} paths for encoder "
                        f"{encoder!r} (its text fields: {sorted(split.texts) or 'none'}); convert a manifest with "
                        f"a {INPUTS[encoder][0]} column")
    return have[0]


def _paths(split: Any, column: str, root: Path, allow_outside: bool, where: str) -> list[str | None]:
    from mmaffect.data.images import media_path

    out: list[str | None] = []
    for i, value in enumerate(split.texts.get(column, [""] * len(split))):
        value = (value or "").strip()
        if not value:
            out.append(None)
        else:
            value = media_path(value, root, f"{where}, sample {split.ids[i]!r}", allow_outside=allow_outside)
            out.append(str(root / value) if not Path(value).is_absolute() else value)
    return out


def extract_media(dataset_dir: str | Path, *, encoder: str, name: str | None = None,
                  media_dir: str | Path | None = None, column: str | None = None, window: str = "padded",
                  max_seconds: float = 30.0, truncate: bool = False, stride: int = 1, fps: float = 5.0,
                  detect: bool = True, pooling: str = "tokens", transcribe: bool = True, strict: bool = False,
                  workers: int = 2, batch_size: int = 8, replace: bool = False, progress: bool = True,
                  allow_outside: bool = False, source: str | None = None, data_root: str | None = None,
                  threads: int = 1) -> dict[str, Any]:
    """Add modality ``name`` made by media ``encoder`` to the native dataset at ``dataset_dir``; return the report
    (``failures`` per split and id, counts by kind, media seconds, wall seconds)."""
    from mmaffect.data.native import add_modality, read_native, remove_modality
    from mmaffect.data.recipes import add_text_fields, record_recipe

    dataset_dir = Path(dataset_dir)
    if workers < 1 or batch_size < 1:
        raise ConfigError(f"--workers and --batch-size must be ≥ 1, got {workers} and {batch_size}")
    ensure_native(dataset_dir, source, data_root)
    bundle = read_native(dataset_dir)
    column = choose_column(bundle, encoder, column)
    name = name or DEFAULT_NAMES[encoder].format(column=column)
    check_output_name(dataset_dir, name, [f".partial/{name}.lengths", f"{name}.failures.json"])
    settings = MediaSettings(encoder, column, window=window, max_seconds=max_seconds, truncate=truncate,
                             stride=stride, fps=fps, detect=detect, pooling=pooling, transcribe=transcribe)
    root = media_root(dataset_dir, bundle, media_dir)
    paths = {s: _paths(split, column, root, allow_outside, f"{dataset_dir}, split {s!r}")
             for s, split in bundle.splits.items()}
    request = {"encoder": encoder, **settings.params(), "media_dir": str(root)}
    if replace and name in bundle.modalities:
        remove_modality(dataset_dir, name)
        record_settings(dataset_dir, name, None)
        record_recipe(dataset_dir, name, None)
        bundle = read_native(dataset_dir)
    if check_completed(dataset_dir, name, request, name in bundle.modalities):
        print(f"{dataset_dir}: modality {name!r} already present with these settings; nothing to do")
        return {"name": name, "failures": {}, "counts": {}}
    media = MediaEncoding(settings, threads=threads)
    recipe = media.recipe()
    started, media_seconds = time.perf_counter(), 0.0
    partial, lengths_name = dataset_dir / ".partial", f"{name}.lengths"
    writers: dict[str, ResumableArrays] = {}
    failures: dict[str, dict[str, dict[str, str]]] = {}
    transcripts: dict[str, list[str]] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool, progress_bar(progress) as bar:
        for split_name, split in bundle.splits.items():
            files, n = paths[split_name], len(split)
            steps = media.fixed_steps() or max([1, *pool.map(lambda p: _steps(media, p), files)])
            writer = writers[split_name] = ResumableArrays(
                partial, name, split_name, {name: (n, steps, media.dim), lengths_name: (n,)},
                {**request, "recipe": recipe, "steps": steps}, {lengths_name: np.int64})
            failures[split_name] = dict(writer.notes.get("failures", {}))
            texts = list(writer.notes.get("transcripts", [])) + [""] * (n - writer.done)
            task = bar.add_task(f"{name} {split_name}", total=n, completed=writer.done)
            for start in range(writer.done, n, batch_size):
                stop = min(start + batch_size, n)
                decoded = list(pool.map(lambda p: _decode(media, p), files[start:stop]))
                rows = np.zeros((stop - start, steps, media.dim), np.float32)
                lengths = np.zeros(stop - start, np.int64)
                for j, (i, item) in enumerate(zip(range(start, stop), decoded)):
                    try:
                        if isinstance(item, BaseException):
                            raise item
                        out = media.encode(item, files[i])
                    except FAILURES as err:
                        if strict:
                            raise type(err)(f"{err} (split {split_name!r}, sample {split.ids[i]!r}; --strict stops "
                                            f"at the first failed file)") from None
                        failures[split_name][split.ids[i]] = {"file": str(files[i]), "kind": failure_kind(err),
                                                              "error": str(err)}
                        continue
                    if getattr(item, "duration", None):
                        media_seconds += float(item.duration)
                    elif hasattr(item, "times") and len(item.times):
                        media_seconds += float(item.times[-1]) + 1 / settings.fps
                    t = min(len(out.features), steps)
                    rows[j, :t], lengths[j] = out.features[:t], t
                    texts[i] = out.transcript or ""
                writer.write(start, {name: rows, lengths_name: lengths},
                             {"failures": failures[split_name], "transcripts": texts[:stop]})
                bar.update(task, completed=stop)
            transcripts[split_name] = texts[:n]
    record_settings(dataset_dir, name, request)
    record_recipe(dataset_dir, name, recipe)
    if encoder == "whisper" and transcribe:
        field_recipe = {**recipe, "kind": "text_field", "made_by": name}
        record_recipe(dataset_dir, TRANSCRIPT_FIELD, field_recipe)
        has_text = all(s.raw_text is not None and any(t for t in s.raw_text) for s in bundle.splits.values())
        add_text_fields(dataset_dir, {s: {TRANSCRIPT_FIELD: t} for s, t in transcripts.items()},
                        raw_text=None if has_text else transcripts)
    add_modality(dataset_dir, name, {s: np.asarray(w.arrays[name]) for s, w in writers.items()},
                 {s: np.asarray(w.arrays[lengths_name]) for s, w in writers.items()})
    for w in writers.values():
        w.remove()
    remove_if_empty(partial)
    return _report(dataset_dir, name, media, failures, media_seconds, time.perf_counter() - started)


def _steps(media: MediaEncoding, path: str | None) -> int:
    """Steps of one file from its declared duration; 1 for a file that cannot be probed (it fails later)."""
    if path is None:
        return 1
    try:
        return media.steps_for(media.duration(path))
    except (*FAILURES, OSError, IndexError):
        return 1


def _decode(media: MediaEncoding, path: str | None) -> Any:
    """The decoded file, or the per-file error (returned, not raised, so the pool never stops)."""
    if path is None:
        return MediaError(f"no {media.settings.column} path for this sample (empty cell in the manifest)")
    try:
        return media.decode(path)
    except FAILURES as err:
        return err


def _report(dataset_dir: Path, name: str, media: MediaEncoding, failures: dict[str, dict[str, dict[str, str]]],
            media_seconds: float, wall: float) -> dict[str, Any]:
    counts = Counter(f["kind"] for per_split in failures.values() for f in per_split.values())
    total = sum(counts.values())
    failures_path = dataset_dir / f"{name}.failures.json"
    if total:
        write_json_atomic(failures_path, failures)
    else:
        failures_path.unlink(missing_ok=True)
    speed = f"; {media_seconds:.0f} s of media in {wall:.0f} s ({media_seconds / wall:.1f}× real time)" \
        if media_seconds and wall > 0 else ""
    print(f"added modality {name!r} (dim {media.dim}) to {dataset_dir}{speed}")
    if total:
        print(f"{total} files failed and are stored with length 0 "
              f"({', '.join(f'{k}: {v}' for k, v in counts.most_common())}); listed in {failures_path}:")
        for split_name, per_split in failures.items():
            for sample_id, f in list(per_split.items())[:20]:
                print(f"  {split_name} {sample_id}: {f['kind']}: {f['error']}")
    return {"name": name, "failures": failures, "counts": dict(counts), "media_seconds": media_seconds,
            "wall_seconds": wall}
