"""The native on-disk format: one directory per dataset, ``.npy`` arrays (memory-mappable), no pickle.

Layout::

    dataset.json                 format, version, name, family, task, modalities (dims), splits (sizes, steps,
                                 extras), provenance, sha256 of every file below
    <split>/<modality>.npy         [N, T, D] float32
    <split>/<modality>.lengths.npy [N] int64 (one file per modality: a modality is added without
                                 touching the others)
    <split>/labels.npy           [N]
    <split>/index.jsonl          one ``{"id": ..., "raw_text": ..., "texts": {...}}`` line per sample
                                 (``texts``: the named per-sample text fields, when there are any)
    <split>/extra.<key>.npy      [N, ...] per extra

Every file is written under a temporary name and renamed into place; a whole dataset is assembled in a
temporary directory beside the target, so an interrupted write never leaves a half dataset, and
``dataset.json`` (rewritten atomically) is the commit point of :func:`add_modality`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import IO, Any, Mapping

import numpy as np

from mmaffect.io import atomic_write_text, file_sha256, remove_stale_temporaries, temporary_path
from mmaffect.errors import DataError, DataFileNotFoundError
from mmaffect.data.native_checks import changed_files, check_split_arrays, file_stamps, load_npy
from mmaffect.data.bundle import DatasetBundle, SplitData
from mmaffect.types import TaskSpec

FORMAT = "mmaffect-native"
VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
_RESERVED = {"labels", "index", "dataset"}
_CHUNK = 1 << 22


class ChecksumError(DataError):
    """A file's sha256 differs from the one recorded in ``dataset.json``."""


# ----------------------------------------------------------------------------------------- file helpers

class _HashingWriter:
    """A write-only file wrapper that also computes the sha256 of what passes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.hash = raw, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return self.raw.write(data)


def _tmp_path(path: Path) -> Path:
    """A temporary name beside ``path``; the temporaries of killed earlier writes to it are removed first."""
    remove_stale_temporaries(path)
    return temporary_path(path)


def _write_npy(path: Path, arr: Any, dtype: Any = None, *, what: str) -> str:
    """Save ``arr`` (optionally cast to ``dtype``) to ``path`` atomically, without pickle; return its sha256."""
    arr = np.asarray(arr)
    if arr.dtype.kind == "O":
        raise ValueError(f"{what}: object arrays cannot be stored in the native format (shape {arr.shape}); "
                         f"use a numeric or fixed-width string dtype")
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as raw:
            writer = _HashingWriter(raw)
            np.lib.format.write_array(writer, arr, allow_pickle=False)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return writer.hash.hexdigest()


def _write_text(path: Path, text: str) -> str:
    """Write ``text`` to ``path`` atomically; return its sha256."""
    return atomic_write_text(path, text)


def _load_npy(path: Path, mmap: bool, kinds: str | None = None, what: str = "array") -> np.ndarray:
    """A ``.npy`` of the dataset; its header is checked against the file size before any allocation."""
    return load_npy(path, mmap, kinds=kinds, what=what)


def open_array_for_writing(path: str | Path, shape: tuple[int, ...], dtype: Any = np.float32, *,
                           resume: bool = False) -> np.memmap:
    """A writable memory-mapped ``.npy`` at ``<path>.partial``; :func:`commit_array` renames it to ``path``.

    With ``resume=True`` an existing ``.partial`` file of the same shape and dtype is reopened (its rows
    kept) instead of recreated, so an interrupted extraction continues where it stopped.
    """
    partial = Path(f"{path}.partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    if resume and partial.is_file():
        try:
            arr = np.lib.format.open_memmap(partial, mode="r+")
            if arr.shape == tuple(shape) and arr.dtype == np.dtype(dtype):
                return arr
            del arr
        except ValueError:
            pass
    return np.lib.format.open_memmap(partial, mode="w+", dtype=dtype, shape=tuple(shape))


def commit_array(path: str | Path, array: np.memmap | None = None) -> Path:
    """Flush ``array`` (if given) and rename ``<path>.partial`` to ``path``."""
    if array is not None:
        array.flush()
    path = Path(path)
    os.replace(f"{path}.partial", path)
    return path


# ----------------------------------------------------------------------------------------- metadata

def _check_name(name: str, what: str) -> None:
    if not _NAME.match(name) or name in _RESERVED:
        raise ValueError(f"{what} name {name!r} cannot be stored: use letters, digits, '_' or '-' "
                         f"(no dots, not one of {sorted(_RESERVED)})")


def _jsonable(value: Any) -> Any:
    """Provenance as JSON: containers and scalars kept, small arrays as lists, other objects described."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.size <= 64 and value.dtype.kind in "biuf":
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return f"<{type(value).__name__} not stored>"


def _read_meta(path: Path) -> dict[str, Any]:
    meta_path = path / "dataset.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{path}: not a native dataset (no dataset.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{meta_path}: invalid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{meta_path}: not a {FORMAT} file (format={found!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"{meta_path}: format version {meta.get('version')!r} is not supported "
                         f"(this reader: {VERSION})")
    for key in ("name", "task", "modalities", "splits", "checksums"):
        if key not in meta:
            raise ValueError(f"{meta_path}: missing key {key!r}")
    return meta


# ----------------------------------------------------------------------------------------- writing

def _write_split(split: SplitData, split_name: str, directory: Path, dims: dict[str, int]) -> tuple[dict, dict]:
    """Write one split into ``directory``; return its metadata and checksums (relative to the dataset)."""
    directory.mkdir()
    sums: dict[str, str] = {}
    n = len(split)
    rel = lambda f: f"{split_name}/{f}"  # noqa: E731
    steps = {}
    for m, x in split.features.items():
        if x.ndim != 3 or x.shape[-1] != dims[m]:
            raise ValueError(f"split {split_name!r}, modality {m!r}: expected [N, T, {dims[m]}], got shape {x.shape}")
        lengths = np.asarray(split.lengths[m])
        if lengths.shape != (n,):
            raise ValueError(f"split {split_name!r}, modality {m!r}: lengths must be [{n}], got shape {lengths.shape}")
        steps[m] = int(x.shape[1])
        sums[rel(f"{m}.npy")] = _write_npy(directory / f"{m}.npy", x, np.float32, what=f"{split_name}/{m}")
        sums[rel(f"{m}.lengths.npy")] = _write_npy(directory / f"{m}.lengths.npy", lengths, np.int64,
                                                   what=f"{split_name}/{m} lengths")
    sums[rel("labels.npy")] = _write_npy(directory / "labels.npy", split.labels, what=f"{split_name}/labels")
    raw = split.raw_text if split.raw_text is not None else [None] * n
    texts: dict[str, list[str]] = dict(getattr(split, "texts", {}) or {})
    rows = []
    for i, (sample_id, text) in enumerate(zip(split.ids, raw)):
        row: dict[str, Any] = {"id": str(sample_id), "raw_text": text}
        if texts:
            row["texts"] = {k: v[i] for k, v in texts.items()}
        rows.append(json.dumps(row, ensure_ascii=False) + "\n")
    lines = "".join(rows)
    sums[rel("index.jsonl")] = _write_text(directory / "index.jsonl", lines)
    extras = {}
    for key, value in split.extras.items():
        _check_name(key, "extra")
        value = np.asarray(value)
        if value.ndim == 0 or value.shape[0] != n:
            raise ValueError(f"split {split_name!r}, extra {key!r}: expected {n} rows, got shape {value.shape}")
        sums[rel(f"extra.{key}.npy")] = _write_npy(directory / f"extra.{key}.npy", value,
                                                   what=f"{split_name}/extra {key}")
        extras[key] = {"shape": list(value.shape), "dtype": value.dtype.str}
    info = {"size": n, "steps": steps, "extras": extras, "has_raw_text": split.raw_text is not None,
            "texts": list(texts)}
    return info, sums


def _dims(bundle: DatasetBundle) -> dict[str, int]:
    dims: dict[str, int] = {}
    for split_name, split in bundle.splits.items():
        if set(split.features) != set(bundle.modalities):
            raise ValueError(f"split {split_name!r} has modalities {sorted(split.features)}, "
                             f"others {sorted(bundle.modalities)}")
        for m, x in split.features.items():
            _check_name(m, "modality")
            if x.ndim != 3:
                raise ValueError(f"split {split_name!r}, modality {m!r}: features must be [N, T, D], "
                                 f"got shape {x.shape}")
            if dims.setdefault(m, int(x.shape[-1])) != x.shape[-1]:
                raise ValueError(f"modality {m!r}: feature size {x.shape[-1]} in split {split_name!r} "
                                 f"differs from {dims[m]} in another split")
    return dims


def write_native(bundle: DatasetBundle, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``bundle`` to ``out_dir`` in the native format, atomically (temporary directory, then rename).

    ``out_dir`` must not exist, be empty, or (with ``overwrite=True``) hold a dataset to replace.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir.is_dir() and not any(out_dir.iterdir())) and not overwrite:
        raise FileExistsError(f"{out_dir} exists and is not empty; pass overwrite=True to replace it")
    dims = _dims(bundle)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)  # folders of killed earlier writes (their process is gone)
    if out_dir.exists():  # a replaced copy is only garbage once the target it was replaced by exists
        remove_stale_temporaries(out_dir, ("old",))
    tmp = temporary_path(out_dir)
    tmp.mkdir()
    try:
        checksums: dict[str, str] = {}
        splits_meta = {}
        for split_name, split in bundle.splits.items():
            _check_name(split_name, "split")
            splits_meta[split_name], sums = _write_split(split, split_name, tmp / split_name, dims)
            checksums.update(sums)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "name": bundle.name,
            "family": bundle.family,
            "task": bundle.task.model_dump(mode="json"),
            "modalities": {m: {"dim": d} for m, d in dims.items()},
            "splits": splits_meta,
            "provenance": _jsonable(bundle.provenance),
            "checksums": checksums,
            "stamps": file_stamps(tmp, checksums),  # size + mtime: a changed file is re-hashed on read
        }
        _write_text(tmp / "dataset.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
        _move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
        os.replace(tmp, out_dir)
        return
    old = temporary_path(out_dir, "old")
    os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


def add_modality(dataset_dir: str | Path, name: str, arrays: Mapping[str, np.ndarray],
                 lengths: Mapping[str, np.ndarray]) -> None:
    """Add modality ``name`` (``arrays[split]`` ``[N, T, D]``, ``lengths[split]`` ``[N]``) to a native dataset.

    The new files are written atomically first; the dataset only gains the modality when ``dataset.json``
    is atomically replaced at the end, so an interruption leaves the dataset as it was.
    """
    dataset_dir = Path(dataset_dir)
    meta = _read_meta(dataset_dir)
    _check_name(name, "modality")
    if name in meta["modalities"]:
        raise ValueError(f"{dataset_dir}: modality {name!r} already exists")
    expected = set(meta["splits"])
    for what, given in (("arrays", arrays), ("lengths", lengths)):
        if set(given) != expected:
            raise ValueError(f"{dataset_dir}: {what} for modality {name!r} must cover splits {sorted(expected)}, "
                             f"got {sorted(given)}")
    dims = {int(np.shape(a)[-1]) if np.ndim(a) == 3 else -1 for a in arrays.values()}
    for split_name, info in meta["splits"].items():
        x, n = arrays[split_name], info["size"]
        lens = np.asarray(lengths[split_name])
        if x.ndim != 3 or x.shape[0] != n:
            raise ValueError(f"{dataset_dir}: split {split_name!r}, modality {name!r}: expected [{n}, T, D], "
                             f"got shape {x.shape}")
        if lens.shape != (n,):
            raise ValueError(f"{dataset_dir}: split {split_name!r}, lengths of {name!r}: expected [{n}], "
                             f"got shape {lens.shape}")
        if lens.dtype.kind not in "iu" or (n and (lens.min() < 0 or lens.max() > x.shape[1])):
            raise ValueError(f"{dataset_dir}: split {split_name!r}, lengths of {name!r} must be integers in "
                             f"[0, {x.shape[1]}] (dtype {lens.dtype})")
    if len(dims) != 1:
        raise ValueError(f"{dataset_dir}: modality {name!r} has different feature sizes across splits: "
                         f"{ {s: np.shape(a) for s, a in arrays.items()} }")
    for split_name, info in meta["splits"].items():
        directory = dataset_dir / split_name
        sums = meta["checksums"]
        sums[f"{split_name}/{name}.npy"] = _write_npy(directory / f"{name}.npy", arrays[split_name], np.float32,
                                                     what=f"{split_name}/{name}")
        sums[f"{split_name}/{name}.lengths.npy"] = _write_npy(directory / f"{name}.lengths.npy",
                                                             lengths[split_name], np.int64,
                                                             what=f"{split_name}/{name} lengths")
        info["steps"][name] = int(arrays[split_name].shape[1])
        new_files = (f"{split_name}/{name}.npy", f"{split_name}/{name}.lengths.npy")
        meta.setdefault("stamps", {}).update(file_stamps(dataset_dir, new_files))
    meta["modalities"][name] = {"dim": dims.pop()}
    _write_text(dataset_dir / "dataset.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def remove_modality(dataset_dir: str | Path, name: str) -> None:
    """Remove modality ``name`` from a native dataset.

    ``dataset.json`` is atomically replaced first (the dataset no longer lists the modality), then the
    modality's files are deleted, so an interruption never leaves a listed modality without its files.
    """
    dataset_dir = Path(dataset_dir)
    meta = _read_meta(dataset_dir)
    if name not in meta["modalities"]:
        raise ValueError(f"{dataset_dir}: no modality {name!r}; it has {sorted(meta['modalities'])}")
    files = []
    for split_name, info in meta["splits"].items():
        info["steps"].pop(name, None)
        for suffix in (".npy", ".lengths.npy"):
            rel = f"{split_name}/{name}{suffix}"
            meta["checksums"].pop(rel, None)
            files.append(dataset_dir / rel)
    del meta["modalities"][name]
    _write_text(dataset_dir / "dataset.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    for file in files:
        file.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------- reading

def verify_native(path: str | Path, only: list[str] | None = None) -> None:
    """Check the sha256 of every file listed in ``dataset.json`` (or of the relative paths ``only``);
    raise :class:`ChecksumError` naming a bad one."""
    path = Path(path)
    checksums = _read_meta(path)["checksums"]
    for rel in checksums if only is None else only:
        file, want = path / rel, checksums[rel]
        if not file.is_file():
            raise DataFileNotFoundError(f"{file}: listed in dataset.json but missing")
        got = file_sha256(file)
        if got != want:
            raise ChecksumError(f"{file}: sha256 {got[:16]}... differs from {want[:16]}... recorded in "
                                f"dataset.json (the file is corrupted or was modified)")


def _read_index(path: Path, n: int, text_fields: list[str]) -> tuple[list[str], list[str | None], dict[str, list]]:
    """Ids, raw texts and the named per-sample text fields of ``index.jsonl``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing file of a native dataset")
    ids, raw = [], []
    fields: dict[str, list] = {k: [] for k in text_fields}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                row = json.loads(line)
                ids.append(str(row["id"]))
                raw.append(row.get("raw_text"))
                for k in text_fields:
                    fields[k].append(row["texts"][k])
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{lineno}: bad index line ({type(e).__name__}: {e})") from None
    if len(ids) != n:
        raise ValueError(f"{path}: {len(ids)} lines but dataset.json says {n} samples")
    return ids, raw, fields


def read_native(path: str | Path, mmap: bool = True, *, verify: bool = False) -> DatasetBundle:
    """Read a native dataset; features (and extras) are memory-mapped read-only when ``mmap``.

    Checks (:mod:`mmaffect.data.native_checks`): ``.npy`` headers against file sizes, dtypes, shapes
    against ``dataset.json`` and each other, lengths in ``[0, T]``, finite labels, NaN/inf in features
    (whole arrays in memory, a sample of memory-mapped ones). A file whose size or mtime changed since it
    was written is checked against its sha256; ``verify=True`` checks every file's sha256 and scans
    memory-mapped features whole.
    """
    path = Path(path)
    meta = _read_meta(path)
    if verify:
        verify_native(path)
    elif changed := changed_files(path, meta):
        verify_native(path, only=changed)
    task = TaskSpec.model_validate(meta["task"])
    dims = {m: int(v["dim"]) for m, v in meta["modalities"].items()}
    splits = {}
    for split_name, info in meta["splits"].items():
        directory, n = path / split_name, int(info["size"])
        features, lengths = {}, {}
        for m in dims:
            features[m] = _load_npy(directory / f"{m}.npy", mmap, "f", "features")
            lengths[m] = _load_npy(directory / f"{m}.lengths.npy", False, "iu", "lengths")
        labels = _load_npy(directory / "labels.npy", False, "iuf", "labels")
        check_split_arrays(directory, n, info, dims, features, lengths, labels, task, whole=verify)
        ids, raw, texts = _read_index(directory / "index.jsonl", n, list(info.get("texts", [])))
        raw_text = raw if info.get("has_raw_text", any(t is not None for t in raw)) else None
        extras = {}
        for key in info.get("extras", {}):
            extras[key] = _load_npy(directory / f"extra.{key}.npy", mmap)
            recorded = info["extras"][key] if isinstance(info["extras"], dict) else {}
            if extras[key].ndim == 0 or len(extras[key]) != n or (
                    "shape" in recorded and list(extras[key].shape) != list(recorded["shape"])):
                raise DataError(f"{directory / f'extra.{key}.npy'}: shape {extras[key].shape}, dataset.json says "
                                f"{recorded.get('shape', [n, '...'])}")
        more = {"texts": texts} if texts else {}
        splits[split_name] = SplitData(features, lengths, labels, ids, raw_text, extras, **more)
    return DatasetBundle(meta["name"], task, splits, meta.get("provenance", {}), family=meta.get("family"))
