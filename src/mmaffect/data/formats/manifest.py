"""Manifest: CSV, TSV or JSONL with columns ``id, text, label`` and optionally ``image, audio, video`` and
``split``, for custom data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data.formats.common import (
    Record, TaskFileError, label_index, make_bundle, need_file, table_rows, with_images,
)
from mmaffect.errors import DataFileNotFoundError

MANIFEST_MEDIA = ("image", "audio", "video")
MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl")
MANIFEST_SPLIT_NAMES = {"train": "train", "valid": "valid", "dev": "valid", "val": "valid", "validation": "valid",
                        "test": "test"}


def is_manifest_dir(path: Path) -> bool:
    """True when ``path`` holds a ``train`` manifest (``train.csv``/``.tsv``/``.jsonl``)."""
    return any((path / f"train{ext}").is_file() for ext in MANIFEST_SUFFIXES)


def read_manifest(path: str | Path, *, name: str | None = None, images_dir: str | Path | None = None,
                  label_names: Sequence[str] | None = None) -> DatasetBundle:
    """A generic manifest for custom data: columns ``id, text, label`` (required) and ``image, audio, video``.

    ``path`` is one file with a ``split`` column (``train``/``valid``/``test``; ``dev``/``val`` accepted)
    or a directory with ``train``, ``valid`` (or ``dev``) and ``test`` files (``.csv``/``.tsv``/``.jsonl``).
    Labels are class indices, or class names (ordered by ``label_names`` when given, else sorted).
    Media paths are kept in ``texts["image"]``/``["audio"]``/``["video"]``; relative image paths are
    joined to ``images_dir`` (default: the manifest's folder) only when ``images_dir`` is given.
    """
    path = Path(path)
    rows: dict[str, list[tuple[str, int, dict[str, Any]]]] = {"train": [], "valid": [], "test": []}
    if path.is_dir():
        for split_name, stems in (("train", ("train",)), ("valid", ("valid", "dev", "val")), ("test", ("test",))):
            files = [path / f"{s}{ext}" for s in stems for ext in MANIFEST_SUFFIXES]
            found = next((f for f in files if f.is_file()), None)
            if found is None:
                looked = ", ".join(f.name for f in files)
                raise DataFileNotFoundError(f"{path}: no {split_name} manifest (looked for {looked})")
            rows[split_name] = [(f"{found}:{n}", n, r) for n, r in table_rows(found)]
    else:
        need_file(path, "manifest file")
        for lineno, row in table_rows(path):
            where = f"{path}:{lineno}"
            split = str(row.get("split", "")).strip().lower()
            if split not in MANIFEST_SPLIT_NAMES:
                raise TaskFileError(f"{where}: split {split!r} must be one of train, valid (dev, val) or test "
                                    f"(a single-file manifest needs a split column)")
            rows[MANIFEST_SPLIT_NAMES[split]].append((where, lineno, row))
    labels_raw = [str(r.get("label", "")).strip() for part in rows.values() for _, _, r in part]
    numeric = all(re.fullmatch(r"[+-]?\d+", v) for v in labels_raw if v)
    if label_names is not None:
        names = [str(n) for n in label_names]
    elif numeric:
        top = max((int(v) for v in labels_raw if v), default=1)
        names = [str(i) for i in range(max(top + 1, 2))]
    else:
        names = sorted({v for v in labels_raw if v})
    splits: dict[str, list[Record]] = {}
    for split_name, part in rows.items():
        records = []
        for where, _, row in part:
            for key in ("id", "text", "label"):
                if row.get(key) is None or str(row.get(key)).strip() == "":
                    raise TaskFileError(f"{where}: missing or empty {key!r} (a manifest needs id, text, label)")
            fields = {k: str(row[k]).strip() for k in MANIFEST_MEDIA if row.get(k) not in (None, "")}
            label = label_index(str(row["label"]), names, where)
            records.append(Record(str(row["id"]).strip(), str(row["text"]), label, fields))
        splits[split_name] = records
    with_images(splits, images_dir, str(path))
    return make_bundle(name or path.stem, splits, names, {"source": str(path), "format": "manifest"})
