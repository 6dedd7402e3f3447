"""Manifest: CSV, TSV or JSONL with columns ``id, text, label`` and optionally ``image, audio, video`` and
``split``, for custom data.

The label type is inferred (:mod:`mmaffect.data.formats.labels`: names -> classes; numbers -> classes by
value or regression) and can be forced with ``task=``/``metrics=``. Without a split column a seeded
split is made on request (:mod:`mmaffect.data.splitting`). Media paths must stay inside their folder
(:func:`mmaffect.data.images.media_path`). Every refusal names the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data.formats.common import Record, TaskFileError, make_bundle, need_file, table_rows, with_images
from mmaffect.data.formats.labels import LabelCell, infer_task
from mmaffect.data.images import media_path
from mmaffect.errors import ConfigError, DataFileNotFoundError

MANIFEST_MEDIA = ("image", "audio", "video")
MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl")
MANIFEST_SPLIT_NAMES = {"train": "train", "valid": "valid", "dev": "valid", "val": "valid", "validation": "valid",
                        "test": "test"}
SPLIT_HINT = ("add a split column (train/valid/test), or ask for a seeded split: `mmaffect convert ... "
              "--split-ratios 0.8 0.1 0.1 [--split-by COLUMN] [--seed 0]` (API: split_ratios=(0.8, 0.1, 0.1), "
              "split_seed=0, group_by=COLUMN)")

Row = tuple[str, int, dict[str, Any]]  # (file:line, line, row)


def is_manifest_dir(path: Path) -> bool:
    """True when ``path`` holds a ``train`` manifest (``train.csv``/``.tsv``/``.jsonl``)."""
    return any((path / f"train{ext}").is_file() for ext in MANIFEST_SUFFIXES)


def read_manifest(path: str | Path, *, name: str | None = None, images_dir: str | Path | None = None,
                  label_names: Sequence[str] | None = None, task: str | None = None, metrics: str | None = None,
                  split_ratios: Sequence[float] | None = None, split_seed: int = 0, group_by: str | None = None,
                  allow_outside: bool = False, log: Callable[[str], None] | None = print) -> DatasetBundle:
    """A generic manifest for custom data: columns ``id, text, label`` (required) and ``image, audio, video``.

    ``path`` is one file with a ``split`` column (``train``/``valid``/``test``; ``dev``/``val`` accepted)
    or a directory with ``train``, ``valid`` (or ``dev``) and ``test`` files (``.csv``/``.tsv``/``.jsonl``).
    A single file without a split column is split with ``split_ratios`` (train, valid, test shares),
    ``split_seed`` and optionally ``group_by`` (a column whose groups never straddle two splits).
    Labels: see :func:`mmaffect.data.formats.labels.infer_task` (``label_names`` fixes the class order;
    ``task``/``metrics`` force the task). Media paths are checked to stay inside ``images_dir`` (default:
    the manifest's folder) unless ``allow_outside``; relative image paths are joined to ``images_dir``
    (and must exist) only when it is given. ``log`` receives what was inferred.
    """
    path = Path(path)
    rows, recipe = _rows_by_split(path, split_ratios, split_seed, group_by)
    _check_unique_ids(rows)
    media_root = Path(images_dir) if images_dir is not None else (path if path.is_dir() else path.parent)
    cells, records = [], []
    for split_name, part in rows.items():
        for where, _, row in part:
            for key in ("id", "text", "label"):
                if row.get(key) is None or str(row.get(key)).strip() == "":
                    raise TaskFileError(f"{where}: missing or empty {key!r} (a manifest needs id, text, label)")
            fields = {k: media_path(str(row[k]).strip(), media_root, where, allow_outside=allow_outside)
                      for k in MANIFEST_MEDIA if row.get(k) not in (None, "")}
            cells.append(LabelCell(where, split_name, row["label"]))
            records.append((split_name, Record(str(row["id"]).strip(), str(row["text"]), 0, fields)))
    decision = infer_task(cells, task=task, metrics=metrics, label_names=label_names, log=log)
    splits: dict[str, list[Record]] = {s: [] for s in rows}
    for split_name, record in records:
        splits[split_name].append(record)
    for split_name, part in splits.items():
        for record, label in zip(part, decision.labels.get(split_name, ())):
            record.label = label.item()
    with_images(splits, images_dir, str(path), allow_outside=allow_outside)
    provenance: dict[str, Any] = {"source": str(path), "format": "manifest", "labels": decision.summary}
    if recipe is not None:
        provenance["split"] = recipe
    return make_bundle(name or path.stem, splits, decision.task.label_names, provenance, task=decision.task)


def _rows_by_split(path: Path, split_ratios: Sequence[float] | None, split_seed: int,
                   group_by: str | None) -> tuple[dict[str, list[Row]], dict[str, Any] | None]:
    """Rows of every split (from the files of a folder, a split column, or a seeded split) and the recipe."""
    rows: dict[str, list[Row]] = {"train": [], "valid": [], "test": []}
    if path.is_dir():
        if split_ratios is not None or group_by is not None:
            raise ConfigError(f"{path}: a folder of train/valid/test manifests is already split; drop the "
                              f"split ratios / split-by options")
        for split_name, stems in (("train", ("train",)), ("valid", ("valid", "dev", "val")), ("test", ("test",))):
            files = [path / f"{s}{ext}" for s in stems for ext in MANIFEST_SUFFIXES]
            found = next((f for f in files if f.is_file()), None)
            if found is None:
                looked = ", ".join(f.name for f in files)
                raise DataFileNotFoundError(f"{path}: no {split_name} manifest (looked for {looked})")
            rows[split_name] = [(f"{found}:{n}", n, r) for n, r in table_rows(found)]
        return rows, None
    need_file(path, "manifest file")
    table = [(f"{path}:{n}", n, r) for n, r in table_rows(path)]
    if not table:
        raise TaskFileError(f"{path}: no rows")
    has_split = any("split" in r for _, _, r in table)
    if has_split and (split_ratios is not None or group_by is not None):
        raise ConfigError(f"{path} has a split column; drop the split ratios / split-by options (or the column)")
    if not has_split:
        if split_ratios is None:
            if group_by is not None:
                raise ConfigError(f"{path}: split-by {group_by!r} needs split ratios (e.g. 0.8 0.1 0.1)")
            raise TaskFileError(f"{path}: no split column; {SPLIT_HINT}")
        from mmaffect.data.splitting import seeded_split

        if group_by is not None:
            key = group_by.strip().lower()
            for where, _, r in table:
                if r.get(key) in (None, ""):
                    raise TaskFileError(f"{where}: no value in the split-by column {group_by!r}")
            groups = [str(r[key]).strip() for _, _, r in table]
        else:
            groups = [f"row {n}" for _, n, _ in table]
        names, recipe = seeded_split(groups, split_ratios, split_seed, group_by=group_by)
        for split_name, item in zip(names, table):
            rows[split_name].append(item)
        return rows, recipe
    for item in table:
        split = str(item[2].get("split", "")).strip().lower()
        if split not in MANIFEST_SPLIT_NAMES:
            raise TaskFileError(f"{item[0]}: split {split!r} must be one of train, valid (dev, val) or test; "
                                f"or leave out the column and {SPLIT_HINT.split(', or ')[1]}")
        rows[MANIFEST_SPLIT_NAMES[split]].append(item)
    return rows, None


def _check_unique_ids(rows: dict[str, list[Row]]) -> None:
    """Refuse an id used twice (in one split or across splits), naming both lines."""
    seen: dict[str, str] = {}
    for part in rows.values():
        for where, _, row in part:
            sample_id = str(row.get("id", "")).strip()
            if not sample_id:
                continue
            if sample_id in seen:
                raise TaskFileError(f"{where}: id {sample_id!r} already used at {seen[sample_id]}; ids must be "
                                    f"unique across all splits")
            seen[sample_id] = where
