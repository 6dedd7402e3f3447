"""The describe job: run a describer over a dataset into a resumable JSONL cache, optionally a native copy.

:func:`describe_data` (``mmaffect describe``) loads a dataset, describes every sample with a registered
describer (:data:`mmaffect.encoders.registry.DESCRIBERS`), caching to a JSONL file rewritten atomically
after every chunk and resumed from (:class:`mmaffect.jobs.resumable.ResumableRows`), and with ``out``
writes a native copy whose splits carry the four description fields as text fields. The ``template``
describer (``needs = "media"``) first measures every sample's media (:func:`describe_media_inputs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from mmaffect.encoders.describers.base import Describer, build_describer
from mmaffect.encoders.describers.parse import FIELDS, as_text
from mmaffect.errors import DataError
from mmaffect.jobs.resumable import ResumableRows, progress_bar


def describe_samples(describer: Describer, ids: Sequence[str], inputs: Sequence[Any], cache: str | Path, *,
                     post_texts: Sequence[str | None] | None = None, progress: bool = True,
                     label: str = "describe") -> dict[str, dict[str, str]]:
    """Describe ``ids`` (skipping those already in ``cache``), rewriting the cache after every chunk."""
    store = ResumableRows(cache, describer.fingerprint())
    todo = [i for i, sample_id in enumerate(ids) if sample_id not in store]
    done_before = len(ids) - len(todo)
    with progress_bar(progress) as bar:
        task = bar.add_task(label, total=len(ids), completed=done_before)
        for start in range(0, len(todo), max(describer.chunk_size, 1)):
            chunk = todo[start:start + describer.chunk_size]
            chunk_ids = [str(ids[i]) for i in chunk]
            chunk_inputs = [inputs[i] for i in chunk]
            if describer.reads_post_text and post_texts is not None:
                described = describer.describe(chunk_ids, chunk_inputs, [post_texts[i] for i in chunk])
            else:
                described = describer.describe(chunk_ids, chunk_inputs)
            rows = {}
            for sample_id, fields in zip(chunk_ids, described):
                row = {f: as_text(fields.get(f)) for f in FIELDS}
                if "raw" in fields:
                    row["raw"] = fields["raw"]
                rows[sample_id] = row
            store.write(rows)
            bar.update(task, advance=len(chunk))
    return {str(i): store.rows[str(i)] for i in ids}


def describe_dataset(bundle: Any, describer: Describer, cache: str | Path, *, images_dir: str | Path | None = None,
                     progress: bool = True, with_post_text: bool = True,
                     log: Callable[[str], None] | None = print) -> Any:
    """Describe every split of ``bundle`` and return a copy with the four fields as text fields.

    Inputs per describer: ``images`` -> ``texts["image"]`` (joined to ``images_dir`` when given; every
    file must exist, else an error pointing to ``--describer file``); ``text`` -> ``texts[describer.field]``;
    ``nothing`` -> ids only; ``media`` -> measured first (:func:`describe_media_inputs`). The returned
    bundle's splits gain ``texts[f]`` for ``f`` in :data:`FIELDS`.
    """
    from mmaffect.data.bundle import DatasetBundle, SplitData
    from mmaffect.data.images import check_images_exist, join_image_paths

    new_splits = {}
    media_inputs = describe_media_inputs(bundle, describer, cache, images_dir=images_dir, progress=progress,
                                         log=log) if describer.needs == "media" else {}
    for split_name, split in bundle.splits.items():
        where = f"{bundle.name}/{split_name}"
        if describer.needs == "media":
            inputs = media_inputs[split_name]
        elif describer.needs == "images":
            if "image" not in split.texts:
                raise KeyError(f"{where}: no image paths (texts['image']); the vlm describer needs images - "
                               f"use --describer file with precomputed descriptions")
            paths = join_image_paths(split.texts["image"], images_dir)
            check_images_exist(paths, dataset=where)
            inputs: Sequence[Any] = paths
        elif describer.needs == "text":
            field = describer.field or "attributes"
            if field not in split.texts:
                raise KeyError(f"{where}: no text field {field!r} for the attributes describer "
                               f"(has {sorted(split.texts)})")
            inputs = split.texts[field]
        else:
            inputs = [None] * len(split)
        described = describe_samples(describer, split.ids, inputs, cache,
                                     post_texts=split.raw_text if with_post_text else None,
                                     progress=progress, label=f"describe {split_name}")
        texts = dict(split.texts)
        for f in FIELDS:
            texts[f] = [described[str(i)][f] for i in split.ids]
        new_splits[split_name] = SplitData(split.features, split.lengths, split.labels, split.ids, split.raw_text,
                                           split.extras, texts)
    record = {"cache": str(cache), **describer.fingerprint()}
    if describer.needs == "media":
        record["failures"] = media_failures(media_inputs)
    return DatasetBundle(bundle.name, bundle.task, new_splits, {**bundle.provenance, "descriptions": record},
                         family=bundle.family)


MEDIA_COLUMNS = ("image", "audio", "video")
_FAILURE_KINDS = (("missing file", r"no such (media )?file|not found"), ("too large", r"exceeds the limit"),
                  ("not an image", r"not an image"), ("no audio track", r"no audio track"),
                  ("no video track", r"no video track"), ("zero length", r"zero length|empty"),
                  ("too short", r"too short"), ("undecodable", r"cannot be decoded|truncated|cannot be converted"))


def failure_kind(message: str) -> str:
    """The category of a per-file failure message (``other`` when none matches)."""
    import re

    return next((kind for kind, pattern in _FAILURE_KINDS if re.search(pattern, message, re.IGNORECASE)), "other")


def media_root(bundle: Any, images_dir: str | Path | None) -> Path | None:
    """The folder relative media paths are joined to: ``images_dir``, else the converted manifest's folder."""
    if images_dir is not None:
        return Path(images_dir)
    source = (bundle.provenance or {}).get("source")
    if not source:
        return None
    return Path(source) if Path(source).is_dir() else Path(source).parent


def _media_rows(split: Any, root: Path | None, transcript: str | None, where: str) -> list[dict[str, Any]]:
    """One mapping per sample: the media paths it has (joined to ``root`` through data/images.py's rule)."""
    from mmaffect.data.images import join_image_paths

    columns = {}
    for column in MEDIA_COLUMNS:
        values = [str(v or "").strip() for v in split.texts.get(column, [""] * len(split))]
        if any(values) and root is None and any(v and not Path(v).is_absolute() for v in values):
            raise DataError(f"{where}: relative {column} paths and no folder to resolve them; pass --images-dir")
        joined = join_image_paths([v for v in values if v], root)
        it = iter(joined)
        columns[column] = [next(it) if v else None for v in values]
    texts = None
    if transcript is not None:
        if transcript == "raw_text":
            texts = list(split.raw_text)
        elif transcript in split.texts:
            texts = list(split.texts[transcript])
        else:
            raise DataError(f"{where}: no text field {transcript!r} for the transcript (fields: raw_text, "
                            f"{', '.join(sorted(split.texts)) or 'none'})")
    rows = []
    for i in range(len(split)):
        row = {c: columns[c][i] for c in MEDIA_COLUMNS if columns[c][i]}
        if texts is not None:
            row["transcript"] = texts[i]
        rows.append(row)
    return rows


def describe_media_inputs(bundle: Any, describer: Any, cache: str | Path, *, images_dir: str | Path | None = None,
                          progress: bool = True, log: Callable[[str], None] | None = print) -> dict[str, list[Any]]:
    """Measure every sample's media into ``<cache>.measures.jsonl`` (resumable, settings-checked), fit the
    describer on the train split's measurements (prosody terciles), and return per split the inputs
    ``{"measures": ...}`` that :meth:`describe` renders. A file that cannot be read is recorded in its
    sample's measurements (``failures``) and counted, never raised."""
    root = media_root(bundle, images_dir)
    source = getattr(describer, "transcript", None)
    field = None if source in (None, "whisper", "none") else source
    store = ResumableRows(f"{cache}.measures.jsonl", describer.measure_settings())
    order = sorted(bundle.splits, key=lambda s: (s != "train", s))
    out: dict[str, list[Any]] = {}
    with progress_bar(progress) as bar:
        for split_name in order:
            split = bundle.splits[split_name]
            rows = _media_rows(split, root, field, f"{bundle.name}/{split_name}")
            if not any(rows):
                raise DataError(f"{bundle.name}/{split_name}: no image, audio or video paths for the template "
                                f"describer (text fields: {sorted(split.texts) or 'none'})")
            todo = [i for i, sample_id in enumerate(split.ids) if str(sample_id) not in store]
            task = bar.add_task(f"measure {split_name}", total=len(rows), completed=len(rows) - len(todo))
            step = max(describer.chunk_size, 1)
            for start in range(0, len(todo), step):
                chunk = todo[start:start + step]
                store.write({str(split.ids[i]): describer.measure(rows[i]) for i in chunk})
                bar.update(task, advance=len(chunk))
            out[split_name] = [{"measures": store.rows[str(i)]} for i in split.ids]
    if "train" in out:
        describer.fit([m["measures"] for m in out["train"]])
    elif not getattr(describer, "fixed_thresholds", True) and log is not None:
        log("template describer: no train split and no --thresholds; prosody is not described in words")
    failures = media_failures(out)
    if failures and log is not None:
        log(f"template describer: files that could not be read: {failures}")
    return out


def media_failures(inputs: dict[str, list[Any]]) -> dict[str, dict[str, int]]:
    """``{split: {"<media>: <kind>": count}}`` of the per-file failures recorded in the measurements."""
    out: dict[str, dict[str, int]] = {}
    for split_name, rows in inputs.items():
        counts: dict[str, int] = {}
        for row in rows:
            for media, message in (row["measures"].get("failures") or {}).items():
                key = f"{media}: {failure_kind(message)}"
                counts[key] = counts.get(key, 0) + 1
        if counts:
            out[split_name] = dict(sorted(counts.items()))
    return out


def load_for_description(data: str, *, data_root: str | None = None, images_dir: str | None = None) -> Any:
    """A dataset to describe: a manifest (``.csv``/``.tsv``/``.jsonl``) or anything ``load_dataset`` reads."""
    from mmaffect.data.registry import is_manifest, load_dataset

    if is_manifest(data):
        return load_dataset(data, images_dir=images_dir)
    return load_dataset(data, data_root=data_root)


def describe_data(data: str, describer: str, cache: str | Path, *, out: str | Path | None = None,
                  data_root: str | None = None, images_dir: str | None = None, progress: bool = True,
                  **options: Any) -> Any:
    """``mmaffect describe``: describe a dataset into ``cache``; with ``out``, write a native copy whose
    splits carry the fields ``ocr``, ``visual_scene``, ``cross_modal``, ``reasoning`` as text fields
    (encode them with ``mmaffect extract OUT --field raw_text+visual_scene`` ...)."""
    from mmaffect.data.native import write_native

    if out is not None and Path(out).resolve() == Path(data).resolve():
        raise ValueError(f"--out {out} is the dataset being described; write the described copy elsewhere")
    bundle = load_for_description(data, data_root=data_root, images_dir=images_dir)
    described = describe_dataset(bundle, build_describer(describer, **options), cache, images_dir=images_dir,
                                 progress=progress)
    if out is not None:
        write_native(described, Path(out))
    return described
