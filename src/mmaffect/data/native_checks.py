"""Checks of a native dataset on read: cheap by default, checksums when files changed or on request.

Every ``.npy`` header is read first (:func:`numpy.lib.format.read_array_header_1_0`/``2_0``) and its
``prod(shape) * itemsize`` compared with the file's size before anything is allocated or mapped, so a
tampered header cannot make the reader allocate more than the file holds. Dtypes follow the format:
features float32, lengths integer, labels integer or float (never bool, complex, string, object);
shapes agree with ``dataset.json`` and across files; lengths lie in ``[0, T]``; labels are finite
(and in ``[0, num_classes)`` for classification).

NaN/inf in features: arrays read into memory are checked whole (in chunks, no large temporary);
memory-mapped arrays are checked on a sample of up to :data:`FINITE_SAMPLE_ROWS` evenly spaced
samples (the first and the last among them), and whole with ``verify=True``, so that opening a
MOSEI-size dataset stays a matter of milliseconds.

Checksums: ``dataset.json`` records each file's sha256 and, since this version, its size and
modification time (``stamps``). A file whose size or mtime differs from its stamp is hashed on every
read; every file is hashed with ``verify=True``. Files without a stamp (older datasets) are hashed only
on request.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from mmaffect.errors import DataError, DataFileNotFoundError

#: Samples of a memory-mapped feature array checked for NaN/inf on an ordinary read.
FINITE_SAMPLE_ROWS = 64
_CHUNK_BYTES = 1 << 24
_REFUSED_KINDS = {"b": "bool", "c": "complex", "U": "string", "S": "bytes", "O": "object", "V": "void/record"}


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """``(shape, dtype, fortran_order, data_offset)`` of a ``.npy`` file, checked against its size."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            offset = f.tell()
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise DataFileNotFoundError(f"{path}: missing file of a native dataset") from None
    except (ValueError, OSError, EOFError, SyntaxError) as e:
        raise DataError(f"{path}: not a readable .npy array ({e})") from None
    if dtype.hasobject:
        raise DataError(f"{path}: dtype {dtype} holds Python objects; the native format stores none")
    expected = offset + math.prod(shape) * dtype.itemsize
    if expected != size:
        raise DataError(f"{path}: the header says shape {shape} of {dtype} ({expected:,} bytes with the header) "
                        f"but the file has {size:,} bytes (truncated or tampered)")
    return shape, dtype, fortran, offset


def load_npy(path: Path, mmap: bool, *, kinds: str | None = None, what: str = "array") -> np.ndarray:
    """Load a ``.npy`` whose header was checked (:func:`npy_header`); ``kinds``: the dtype kinds allowed."""
    shape, dtype, _, _ = npy_header(path)
    if kinds is not None and dtype.kind not in kinds:
        kind = _REFUSED_KINDS.get(dtype.kind, dtype.kind)
        raise DataError(f"{path}: {what} of dtype {dtype} ({kind}) refused; the native format stores "
                        f"{ {'f': 'float', 'i': 'int', 'u': 'unsigned'}.get(kinds[0], kinds) } here")
    try:
        if mmap and math.prod(shape) > 0:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npy array ({e})") from None


def check_finite(x: np.ndarray, path: Path, *, whole: bool) -> None:
    """Refuse NaN/inf in ``x`` (all of it when ``whole``, else a sample of its samples), naming ``path``."""
    n = len(x)
    if n == 0:
        return
    if whole:
        rows = max(1, _CHUNK_BYTES // max(1, x[:1].nbytes))
        starts = range(0, n, rows)
        parts = ((s, x[s:s + rows]) for s in starts)
    else:
        index = np.unique(np.linspace(0, n - 1, min(n, FINITE_SAMPLE_ROWS)).round().astype(np.int64))
        parts = ((int(i), x[i:i + 1]) for i in index)
    for start, part in parts:
        finite = np.isfinite(part).reshape(len(part), -1).all(axis=1)
        if not finite.all():
            row = start + int(np.argmin(finite))
            raise DataError(f"{path}: sample {row} has NaN or infinite values")


def check_split_arrays(directory: Path, n: int, info: Mapping[str, Any], dims: Mapping[str, int],
                       features: Mapping[str, np.ndarray], lengths: Mapping[str, np.ndarray],
                       labels: np.ndarray, task: Any, *, whole: bool) -> None:
    """Shapes against ``dataset.json`` and each other, lengths in ``[0, T]``, labels and features finite."""
    steps = info.get("steps", {})
    for m, d in dims.items():
        x, file = features[m], directory / f"{m}.npy"
        if x.dtype != np.float32:
            raise DataError(f"{file}: dtype {x.dtype}, the native format stores float32 features")
        if x.ndim != 3 or x.shape[0] != n or x.shape[2] != d:
            raise DataError(f"{file}: shape {x.shape}, dataset.json says [{n}, T, {d}]")
        if m in steps and x.shape[1] != int(steps[m]):
            raise DataError(f"{file}: {x.shape[1]} steps, dataset.json says {steps[m]}")
        lens, lfile = lengths[m], directory / f"{m}.lengths.npy"
        if lens.shape != (n,):
            raise DataError(f"{lfile}: shape {lens.shape}, expected ({n},) like {file.name}")
        if n and (int(lens.min()) < 0 or int(lens.max()) > x.shape[1]):
            bad = int(np.flatnonzero((lens < 0) | (lens > x.shape[1]))[0])
            raise DataError(f"{lfile}: length {int(lens[bad])} of sample {bad} is outside [0, {x.shape[1]}]")
        check_finite(x, file, whole=whole or not isinstance(x, np.memmap))
    lab_file = directory / "labels.npy"
    if labels.ndim == 0 or len(labels) != n:
        raise DataError(f"{lab_file}: shape {labels.shape}, dataset.json says {n} labels")
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        bad = int(np.flatnonzero(~np.isfinite(labels).reshape(n, -1).all(axis=1))[0])
        raise DataError(f"{lab_file}: label of sample {bad} is {labels[bad]} (not finite)")
    if getattr(task, "kind", None) == "classification" and n:
        if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
            raise DataError(f"{lab_file}: classification labels must be integers, found {labels[labels != np.round(labels)][0]}")
        low, high = labels.min(), labels.max()
        if low < 0 or high >= task.num_classes:
            raise DataError(f"{lab_file}: class labels must lie in [0, {task.num_classes}), found {low}..{high}")


def file_stamps(root: Path, rels: Iterable[str]) -> dict[str, list[int]]:
    """``{relative path: [size, mtime_ns]}`` of the files under ``root``: recorded in ``dataset.json``."""
    stamps = {}
    for rel in rels:
        st = (root / rel).stat()
        stamps[rel] = [int(st.st_size), int(st.st_mtime_ns)]
    return stamps


def changed_files(root: Path, meta: Mapping[str, Any]) -> list[str]:
    """The files whose size or mtime differ from the stamp ``dataset.json`` recorded (missing ones too)."""
    changed = []
    for rel, stamp in (meta.get("stamps") or {}).items():
        if rel not in meta["checksums"]:
            continue
        try:
            st = (root / rel).stat()
        except FileNotFoundError:
            changed.append(rel)
            continue
        if [int(st.st_size), int(st.st_mtime_ns)] != list(stamp):
            changed.append(rel)
    return changed
