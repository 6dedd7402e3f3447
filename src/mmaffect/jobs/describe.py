"""The describe job: run a describer over a dataset into a resumable JSONL cache, optionally a native copy.

:func:`describe_data` (``mmaffect describe``) loads a dataset, describes every sample with a registered
describer (:data:`mmaffect.encoders.registry.DESCRIBERS`), caching to a JSONL file rewritten atomically
after every chunk and resumed from (:class:`mmaffect.jobs.resumable.ResumableRows`), and with ``out``
writes a native copy whose splits carry the four description fields as text fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from mmaffect.encoders.describers.base import Describer, build_describer
from mmaffect.encoders.describers.parse import FIELDS, as_text
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
                     progress: bool = True, with_post_text: bool = True) -> Any:
    """Describe every split of ``bundle`` and return a copy with the four fields as text fields.

    Inputs per describer: ``images`` -> ``texts["image"]`` (joined to ``images_dir`` when given; every
    file must exist, else an error pointing to ``--describer file``); ``text`` -> ``texts[describer.field]``;
    ``nothing`` -> ids only. The returned bundle's splits gain ``texts[f]`` for ``f`` in :data:`FIELDS`.
    """
    from mmaffect.data.bundle import DatasetBundle, SplitData
    from mmaffect.data.images import check_images_exist, join_image_paths

    new_splits = {}
    for split_name, split in bundle.splits.items():
        where = f"{bundle.name}/{split_name}"
        if describer.needs == "images":
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
    return DatasetBundle(bundle.name, bundle.task, new_splits,
                         {**bundle.provenance, "descriptions": {"cache": str(cache), **describer.fingerprint()}},
                         family=bundle.family)


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
