"""Readers for the pickled feature sets users already have: MMSA (``aligned_50.pkl``...) and MulT (``mosi_data.pkl``).

Both are loaded with the restricted unpickler of :mod:`mmaffect.data.safe_pickle` and validated key by key;
every error names the file, the split, the key and the shapes involved. The one documented repair:
``-inf`` / ``+inf`` / NaN in ``audio`` or ``vision`` become 0, with one warning per split and key
that counts them (COVAREP features of MOSI/MOSEI contain ``-inf``).
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mmaffect.data.bundle import SPLITS, DatasetBundle, SplitData
from mmaffect.data.safe_pickle import UnsafePickleError, safe_load
from mmaffect.types import TaskSpec

MODALITY_KEYS = ("text", "audio", "vision")
ZEROED_KEYS = ("audio", "vision")
SIMS_UNIMODAL_KEYS = ("regression_labels_T", "regression_labels_A", "regression_labels_V")
MMSA_KNOWN_KEYS = {
    *MODALITY_KEYS, "text_bert", "audio_lengths", "vision_lengths", "regression_labels",
    *SIMS_UNIMODAL_KEYS, "classification_labels", "id", "raw_text",
}
MULT_KNOWN_KEYS = {*MODALITY_KEYS, "labels", "id"}


class NonFiniteWarning(UserWarning):
    """Non-finite feature values were replaced by 0 (the count is in the message)."""


class _Where:
    """Where a value comes from, for error messages: file, split, key."""

    def __init__(self, path: Path, split: str) -> None:
        self.path, self.split = path, split

    def error(self, key: str | None, message: str) -> ValueError:
        where = f"{self.path}: split {self.split!r}" + (f", key {key!r}" if key else "")
        return ValueError(f"{where}: {message}")


def _array(where: _Where, data: dict, key: str) -> np.ndarray:
    try:
        return np.asarray(data[key])
    except Exception as e:  # ragged lists and the like
        raise where.error(key, f"cannot be read as an array ({e})") from None


def _check_rows(where: _Where, key: str, arr: np.ndarray, n: int, n_key: str, n_shape: tuple) -> None:
    if arr.ndim == 0 or arr.shape[0] != n:
        raise where.error(key, f"shape {arr.shape} does not match {n} samples of {n_key!r} (shape {n_shape})")


def _vector(where: _Where, data: dict, key: str) -> np.ndarray:
    """A per-sample value: rank 1 ``[N]`` or ``[N, 1]``, returned as ``[N]``."""
    arr = _array(where, data, key)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise where.error(key, f"must be [N] or [N, 1], got shape {arr.shape}")
    return arr


def _float_labels(where: _Where, key: str, arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise where.error(key, f"must be numeric, got dtype {arr.dtype} (shape {arr.shape})")
    out = arr.astype(np.float32)
    bad = int(out.size - np.count_nonzero(np.isfinite(out)))
    if bad:
        raise where.error(key, f"{bad} non-finite labels (shape {arr.shape})")
    return out


def _integral(where: _Where, key: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` as int64, only if every value is a finite integer."""
    if arr.dtype.kind in "biu":
        return arr.astype(np.int64)
    if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        raise where.error(key, f"must hold integers (dtype {arr.dtype}, shape {arr.shape}); "
                               f"found non-integral or non-finite values")
    return arr.astype(np.int64)


def _features(where: _Where, data: dict, key: str, n: int, n_key: str, n_shape: tuple,
              zeroed: dict[str, int]) -> np.ndarray:
    arr = _array(where, data, key)
    if arr.ndim != 3:
        raise where.error(key, f"features must be [N, T, D] (rank 3), got shape {arr.shape}")
    _check_rows(where, key, arr, n, n_key, n_shape)
    if arr.dtype.kind not in "biuf":
        raise where.error(key, f"features must be numeric, got dtype {arr.dtype} (shape {arr.shape})")
    arr = np.asarray(arr, dtype=np.float32)
    if not arr.flags.writeable:
        arr = arr.copy()
    finite = np.isfinite(arr)
    bad = int(arr.size - np.count_nonzero(finite))
    if bad:
        if key not in ZEROED_KEYS:
            raise where.error(key, f"{bad} non-finite values (NaN/inf) in features of shape {arr.shape}")
        arr[~finite] = 0.0
        zeroed[key] = bad
        warnings.warn(f"{where.path}: split {where.split!r}, key {key!r}: {bad} non-finite values "
                      f"(-inf/+inf/NaN) of {arr.size} set to 0", NonFiniteWarning, stacklevel=2)
    return arr


def _lengths(where: _Where, data: dict, key: str, n: int, n_key: str, n_shape: tuple, steps: int) -> np.ndarray:
    arr = _array(where, data, key)
    if arr.ndim != 1:
        raise where.error(key, f"lengths must be [N] (rank 1), got shape {arr.shape}")
    _check_rows(where, key, arr, n, n_key, n_shape)
    arr = _integral(where, key, arr)
    if len(arr) and arr.min() < 0:
        raise where.error(key, f"negative length {int(arr.min())}")
    return np.minimum(arr, steps)


def _strings(where: _Where, data: dict, key: str, n: int, n_key: str, n_shape: tuple) -> list[str]:
    arr = _array(where, data, key)
    _check_rows(where, key, arr, n, n_key, n_shape)
    decode = lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)  # noqa: E731
    if arr.ndim == 1:
        return [decode(v) for v in arr.tolist()]
    if arr.ndim == 2:  # e.g. MulT ids as [video, segment] rows
        return ["_".join(decode(v) for v in row if decode(v)) for row in arr.tolist()]
    raise where.error(key, f"must be [N] strings (or [N, k] parts), got shape {arr.shape}")


def _splits_of(data: Any, path: Path) -> dict[str, dict]:
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict with splits {list(SPLITS)}, got {type(data).__name__}")
    missing = [s for s in SPLITS if s not in data]
    if missing:
        raise ValueError(f"{path}: missing split(s) {missing} (found keys: {sorted(map(str, data))})")
    for s in SPLITS:
        if not isinstance(data[s], dict):
            raise ValueError(f"{path}: split {s!r} must be a dict of arrays, got {type(data[s]).__name__}")
    return {s: data[s] for s in SPLITS}


def _split_common(where: _Where, d: dict, label_key: str, labels: np.ndarray,
                  zeroed: dict[str, int]) -> tuple[dict, dict, list[str]]:
    """Features (with full lengths), ids and the modality list shared by both layouts."""
    modalities = [m for m in MODALITY_KEYS if m in d]
    if not modalities:
        raise where.error(None, f"no modality key: need at least one of {list(MODALITY_KEYS)} "
                                f"(found keys: {sorted(map(str, d))})")
    n, shape = len(labels), _array(where, d, label_key).shape
    features = {m: _features(where, d, m, n, label_key, shape, zeroed) for m in modalities}
    lengths = {m: np.full(n, features[m].shape[1], dtype=np.int64) for m in modalities}
    ids = _strings(where, d, "id", n, label_key, shape) if "id" in d else [f"{where.split}_{i}" for i in range(n)]
    return features, lengths, ids


def _mmsa_split(path: Path, split: str, d: dict, zeroed: dict[str, int]) -> SplitData:
    where = _Where(path, split)
    if "regression_labels" not in d:
        raise where.error("regression_labels", f"missing required key (found keys: {sorted(map(str, d))})")
    labels = _float_labels(where, "regression_labels", _vector(where, d, "regression_labels"))
    n, shape = len(labels), _array(where, d, "regression_labels").shape
    features, lengths, ids = _split_common(where, d, "regression_labels", labels, zeroed)
    for m in ("audio", "vision"):
        if m in features and f"{m}_lengths" in d:
            lengths[m] = _lengths(where, d, f"{m}_lengths", n, "regression_labels", shape, features[m].shape[1])
    extras: dict[str, np.ndarray] = {}
    if "text_bert" in d:
        tb = _array(where, d, "text_bert")
        if tb.ndim != 3 or tb.shape[1] != 3:
            raise where.error("text_bert", f"must be [N, 3, L] (ids, mask, segment ids), got shape {tb.shape}")
        _check_rows(where, "text_bert", tb, n, "regression_labels", shape)
        extras["text_bert"] = _integral(where, "text_bert", tb)
        if "text" in features:
            lengths["text"] = np.minimum(extras["text_bert"][:, 1].sum(axis=1), features["text"].shape[1])
    if "classification_labels" in d:
        cls = _vector(where, d, "classification_labels")
        _check_rows(where, "classification_labels", cls, n, "regression_labels", shape)
        try:
            extras["classification_labels"] = _integral(where, "classification_labels", cls)
        except ValueError:
            extras["classification_labels"] = _float_labels(where, "classification_labels", cls)
    for key in SIMS_UNIMODAL_KEYS:
        if key in d:
            vec = _vector(where, d, key)
            _check_rows(where, key, vec, n, "regression_labels", shape)
            extras[key] = _float_labels(where, key, vec)
    raw_text = _strings(where, d, "raw_text", n, "regression_labels", shape) if "raw_text" in d else None
    return SplitData(features, lengths, labels, ids, raw_text, extras)


def _mult_split(path: Path, split: str, d: dict, zeroed: dict[str, int]) -> SplitData:
    where = _Where(path, split)
    if "labels" not in d:
        raise where.error("labels", f"missing required key (found keys: {sorted(map(str, d))})")
    raw = _array(where, d, "labels")
    if raw.ndim == 0 or raw.ndim > 3 or any(s != 1 for s in raw.shape[1:]):
        raise where.error("labels", f"must be [N, 1, 1], [N, 1] or [N] (one score per sample), got shape {raw.shape}")
    labels = _float_labels(where, "labels", raw.reshape(-1))
    features, lengths, ids = _split_common(where, d, "labels", labels, zeroed)
    return SplitData(features, lengths, labels, ids)


def _bundle(path: Path, data: Any, name: str | None, layout: str) -> DatasetBundle:
    splits_in = _splits_of(data, path)
    read = _mmsa_split if layout == "mmsa" else _mult_split
    known = MMSA_KNOWN_KEYS if layout == "mmsa" else MULT_KNOWN_KEYS
    splits, zeroed_all, ignored = {}, {}, set()
    for split, d in splits_in.items():
        zeroed: dict[str, int] = {}
        splits[split] = read(path, split, d, zeroed)
        if zeroed:
            zeroed_all[split] = zeroed
        ignored |= {str(k) for k in d if k not in known}
    modalities = [sorted(s.features) for s in splits.values()]
    if any(m != modalities[0] for m in modalities):
        raise ValueError(f"{path}: splits have different modalities: "
                         f"{dict(zip(splits, modalities))}")
    for m in modalities[0]:
        dims = {s: int(sd.features[m].shape[-1]) for s, sd in splits.items()}
        if len(set(dims.values())) > 1:
            raise ValueError(f"{path}: key {m!r} has different feature sizes D across splits: {dims}")
    sims = layout == "mmsa" and "regression_labels_T" in splits_in["train"]
    task = TaskSpec(kind="regression", metrics="sims" if sims else "msa",
                    label_range=(-1.0, 1.0) if sims else (-3.0, 3.0))
    provenance: dict[str, Any] = {"source": str(path), "format": layout}
    if zeroed_all:
        provenance["non_finite_set_to_zero"] = zeroed_all
    if ignored:
        provenance["ignored_keys"] = sorted(ignored)
    return DatasetBundle(name or path.stem, task, splits, provenance,
                         family=pickle_family({s: len(sd) for s, sd in splits.items()}, sims))


# split sizes (train, valid, test) of the official releases -> the benchmark family they belong to
KNOWN_SPLIT_SIZES = {
    (1284, 229, 686): "mosi",     # CMU-MOSI (MMSA and MulT pickles)
    (1444, 291, 460): "mosi",     # CMU-MOSI utterance features of the bc-LSTM release (mosi_utterance)
    (16326, 1871, 4659): "mosei",  # CMU-MOSEI
    (1368, 456, 457): "sims",     # CH-SIMS (with the unimodal labels regression_labels_T/A/V)
}


def pickle_family(sizes: dict[str, int], sims_labels: bool) -> str | None:
    """The benchmark family of a pickle recognised from its split sizes (SIMS also needs its unimodal labels)."""
    family = KNOWN_SPLIT_SIZES.get((sizes.get("train", -1), sizes.get("valid", -1), sizes.get("test", -1)))
    if family == "sims" and not sims_labels:
        return None
    return family


def _load(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return safe_load(path)
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from None


def load_mmsa_pickle(path: str | Path, *, name: str | None = None) -> DatasetBundle:
    """Read an MMSA feature pickle (MOSI/MOSEI/SIMS ``aligned_50.pkl``, ``unaligned_50.pkl``, ...).

    Modalities ``text``/``audio``/``vision`` become float32 ``[N, T, D]``; audio/vision lengths come from
    ``*_lengths`` (clipped to T, full T when absent), text lengths from the ``text_bert`` mask. ``text_bert``
    (as int64 ids), ``classification_labels`` and SIMS ``regression_labels_T/A/V`` go to ``extras``.
    The metric set is ``sims`` when ``regression_labels_T`` exists, else ``msa``.
    """
    path = Path(path)
    return _bundle(path, _load(path), name, "mmsa")


def load_mult_pickle(path: str | Path, *, name: str | None = None) -> DatasetBundle:
    """Read a MulT-style pickle (``mosi_data.pkl``).

    Keys ``text``/``audio``/``vision`` ``[N, T, D]`` (full lengths), ``labels`` ``[N, 1, 1]``, ``id``.
    """
    path = Path(path)
    return _bundle(path, _load(path), name, "mult")


def load_pickle(path: str | Path, *, name: str | None = None) -> DatasetBundle:
    """An MMSA or a MulT pickle, the layout detected by content."""
    path = Path(path)
    data = _load(path)
    return _bundle(path, data, name, _layout(data, path))


def _layout(data: Any, path: Path) -> str:
    if isinstance(data, dict):
        first = next((data[s] for s in SPLITS if isinstance(data.get(s), dict)), None)
        if first is not None:
            if "regression_labels" in first:
                return "mmsa"
            if "labels" in first:
                return "mult"
            raise ValueError(f"{path}: neither an MMSA pickle (needs 'regression_labels') nor a MulT pickle "
                             f"(needs 'labels'); split keys found: {sorted(map(str, first))}")
        raise ValueError(f"{path}: expected a dict with splits {list(SPLITS)}; keys found: {sorted(map(str, data))}")
    raise ValueError(f"{path}: expected a dict with splits {list(SPLITS)}, got {type(data).__name__}")
