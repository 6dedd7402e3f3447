"""What every task-file reader shares: records, the classification task, the line readers, label parsing.

The line readers (:func:`text_lines`, :func:`jsonl_rows`, :func:`csv_rows`, :func:`table_rows`) are the
one way the package reads a JSONL/CSV/TSV file: every error names the file and the line.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from mmaffect.data.bundle import DatasetBundle, SplitData
from mmaffect.data.images import resolve_images
from mmaffect.errors import DataError, DataFileNotFoundError
from mmaffect.types import TaskSpec


class TaskFileError(DataError):
    """A malformed task file; the message names the file and, where there is one, the line."""


@dataclass
class Record:
    """One sample as read from a task file."""

    id: str
    text: str
    label: int | float
    fields: dict[str, str] = field(default_factory=dict)


def classification_task(label_names: Sequence[str]) -> TaskSpec:
    """The classification :class:`TaskSpec` of ``label_names`` (``binary`` metrics for two classes)."""
    names = [str(n) for n in label_names]
    return TaskSpec(kind="classification", metrics="binary" if len(names) == 2 else "classification",
                    num_classes=len(names), label_names=names)


def build_split(records: Sequence[Record], where: str = "", regression: bool = False) -> SplitData:
    """A :class:`SplitData` without feature modalities from ``records`` (every record has the same fields)."""
    keys: list[str] = []
    for r in records:
        for k in r.fields:
            if k not in keys:
                keys.append(k)
    return SplitData(
        features={}, lengths={},
        labels=np.asarray([r.label for r in records], dtype=np.float32 if regression else np.int64),
        ids=[r.id for r in records],
        raw_text=[r.text for r in records],
        texts={k: [r.fields.get(k, "") for r in records] for k in keys},
    )


def make_bundle(name: str, splits: dict[str, Sequence[Record]], label_names: Sequence[str],
                provenance: dict[str, Any], family: str | None = None, task: TaskSpec | None = None) -> DatasetBundle:
    """The bundle of the records of every split; class labels checked against ``label_names``.

    ``task`` (e.g. a regression inferred from a manifest's labels) replaces the classification task of
    ``label_names``."""
    task = task or classification_task(label_names)
    regression = task.kind == "regression"
    for split_name, records in splits.items():
        if not records:
            raise TaskFileError(f"{name}: split {split_name!r} is empty")
        for r in records if not regression else ():
            if not 0 <= r.label < len(label_names):
                raise TaskFileError(f"{name}: split {split_name!r}, sample {r.id!r}: label {r.label} outside "
                                    f"0..{len(label_names) - 1}")
    return DatasetBundle(name, task, {k: build_split(v, regression=regression) for k, v in splits.items()},
                         provenance, family)


def need_file(path: Path, hint: str = "") -> Path:
    if not path.is_file():
        raise DataFileNotFoundError(f"{path} not found" + (f": {hint}" if hint else ""))
    return path


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines of a UTF-8 text file with their 1-based numbers."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                yield lineno, line.rstrip("\n")


def jsonl_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """JSON objects of a JSONL file (blank lines skipped) with their 1-based line numbers."""
    for lineno, line in text_lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise TaskFileError(f"{path}:{lineno}: invalid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(row, dict):
            raise TaskFileError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        yield lineno, row


def csv_rows(path: Path, delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV with a header, keyed by lower-cased stripped column names, with their line numbers."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        if reader.fieldnames is None:
            raise TaskFileError(f"{path}: empty file (no header)")
        for row in reader:
            if None in row:
                raise TaskFileError(f"{path}:{reader.line_num}: more fields than the header has")
            yield reader.line_num, {str(k).strip().lower(): (v if v is not None else "") for k, v in row.items()}


def table_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a ``.jsonl``/``.json`` (objects), ``.csv`` or ``.tsv`` file (with a header), keys lower-cased."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        for lineno, row in jsonl_rows(path):
            yield lineno, {str(k).strip().lower(): v for k, v in row.items()}
    elif suffix in (".csv", ".tsv"):
        yield from csv_rows(path, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        raise TaskFileError(f"{path}: a manifest must be .csv, .tsv or .jsonl")


def with_images(splits: dict[str, list[Record]], images_dir: str | Path | None, dataset: str, *,
                allow_outside: bool = False) -> None:
    """Resolve ``fields["image"]`` of every record that has one against ``images_dir`` (in place)."""
    if images_dir is None:
        return
    for records in splits.values():
        with_image = [r for r in records if "image" in r.fields]
        resolved = resolve_images([r.fields["image"] for r in with_image], images_dir, dataset=dataset,
                                  allow_outside=allow_outside)
        for r, p in zip(with_image, resolved):
            r.fields["image"] = p


def int_label(value: Any, where: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise TaskFileError(f"{where}: label {value!r} is not an integer")


def label_index(value: str, names: Sequence[str], where: str) -> int:
    value = value.strip()
    if re.fullmatch(r"[+-]?\d+", value):
        index = int(value)
    else:
        lowered = [n.lower() for n in names]
        if value.lower() not in lowered:
            raise TaskFileError(f"{where}: unknown label {value!r} (expected one of {list(names)} or an index)")
        index = lowered.index(value.lower())
    if not 0 <= index < len(names):
        raise TaskFileError(f"{where}: label {index} outside 0..{len(names) - 1}")
    return index
