"""Restricted unpickler and the MMSA / MulT pickle readers."""

from __future__ import annotations

import collections
import io
import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from mmaffect.data.formats.mmsa import NonFiniteWarning, load_mmsa_pickle, load_mult_pickle
from mmaffect.data.registry import read_path as read_any
from mmaffect.data.safe_pickle import UnsafePickleError, safe_load

SIZES = {"train": 6, "valid": 4, "test": 5}


def mmsa_dict(seed: int = 0, *, text_steps: int = 5, audio_steps: int = 7, vision_steps: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in SIZES.items():
        mask = np.zeros((n, text_steps))
        for i in range(n):
            mask[i, : 2 + i % (text_steps - 1)] = 1
        ids = rng.integers(100, 30000, (n, text_steps)) * mask
        out[split] = {
            "text": rng.normal(size=(n, text_steps, 8)).astype(np.float32),
            "text_bert": np.stack([ids, mask, np.zeros_like(mask)], axis=1).astype(np.float64),
            "audio": rng.normal(size=(n, audio_steps, 4)),
            "vision": rng.normal(size=(n, vision_steps, 6)).astype(np.float32),
            "audio_lengths": [int(v) for v in rng.integers(1, 12, n)],
            "vision_lengths": np.array(rng.integers(1, vision_steps + 1, n)),
            "regression_labels": rng.uniform(-3, 3, n).astype(np.float32),
            "classification_labels": rng.integers(0, 3, n).astype(np.float32),
            "id": [f"{split}_vid_{i}" for i in range(n)],
            "raw_text": [f"sentence {i} of {split}" for i in range(n)],
        }
    return out


def dump(path: Path, data) -> Path:
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path


# ----------------------------------------------------------------------------- restricted unpickler

class Payload:
    """Unpickling this object runs a shell command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class EvalPayload:
    def __reduce__(self):
        return (eval, ("print('code ran')",))


def test_code_running_pickle_is_refused_and_sentinel_not_created(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    blob = pickle.dumps(Payload(f"touch '{sentinel}'"))
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(blob)
    with pytest.raises(UnsafePickleError, match=rf"{re.escape(str(bad))}.*(posix|os|nt)\.system"):
        safe_load(bad)
    assert not sentinel.exists()
    # Hidden inside a dataset: the readers refuse it too.
    data = mmsa_dict()
    data["train"]["raw_text"] = Payload(f"touch '{sentinel}'")
    nested = dump(tmp_path / "nested.pkl", data)
    for reader in (load_mmsa_pickle, load_mult_pickle, read_any):
        with pytest.raises(UnsafePickleError, match=r"\.system"):
            reader(nested)
    assert not sentinel.exists()
    # Control: the same bytes given to the plain unpickler do run the command, so the check above is real.
    pickle.loads(blob)
    assert sentinel.exists()


def test_builtins_outside_containers_are_refused():
    with pytest.raises(UnsafePickleError, match=r"builtins\.eval") as info:
        safe_load(io.BytesIO(pickle.dumps(EvalPayload())))
    assert "<stream>" in str(info.value)
    with pytest.raises(UnsafePickleError, match=r"builtins\.getattr"):
        safe_load(io.BytesIO(pickle.dumps(getattr)))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_values_and_containers_are_admitted(protocol):
    values = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "fortran": np.asfortranarray(np.ones((2, 3))),
        "strided": np.arange(10.0)[::3],
        "str": np.array(["a", "bc"]),
        "objects": np.array(["x", 1], dtype=object),
        "record": np.zeros(2, dtype=[("a", "f4"), ("b", "i8")]),
        "scalar": np.float32(1.5),
        "int": np.int64(-3),
        "dtype": np.dtype("f8"),
        "ordered": collections.OrderedDict(b=1, a=2),
        "set": {1, 2},
        "frozen": frozenset({"x"}),
        "bytes": bytearray(b"ab"),
        "complex": 1 + 2j,
        "list": [1, "two", (3.0, None)],
    }
    out = safe_load(io.BytesIO(pickle.dumps(values, protocol=protocol)))
    assert list(out) == list(values)
    for key, want in values.items():
        got = out[key]
        assert type(got) is type(want), key
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and np.array_equal(got, want), key
        else:
            assert got == want, key


def test_numpy_1x_global_names_are_admitted():
    """NumPy 1.x writes ``numpy.core.multiarray._reconstruct``; NumPy 2 writes ``numpy._core...``."""
    blob = pickle.dumps(np.arange(4.0), protocol=2)
    assert b"numpy._core.multiarray" in blob or b"numpy.core.multiarray" in blob
    old = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert np.array_equal(safe_load(io.BytesIO(old)), np.arange(4.0))
    scalar = pickle.dumps(np.float64(2.5), protocol=0).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert safe_load(io.BytesIO(scalar)) == 2.5


# ----------------------------------------------------------------------------- MMSA reader

def test_mmsa_reads_shapes_lengths_and_extras(tmp_path):
    data = mmsa_dict()
    path = dump(tmp_path / "aligned_5.pkl", data)
    bundle = load_mmsa_pickle(path)
    assert bundle.name == "aligned_5"
    assert bundle.task.kind == "regression" and bundle.task.metrics == "msa"
    assert bundle.task.label_range == (-3.0, 3.0)
    assert bundle.dims() == {"text": 8, "audio": 4, "vision": 6}
    for split, n in SIZES.items():
        s, d = bundle.split(split), data[split]
        assert len(s) == n
        for m in ("text", "audio", "vision"):
            assert s.features[m].dtype == np.float32 and s.features[m].ndim == 3
        np.testing.assert_allclose(s.features["audio"], d["audio"].astype(np.float32))
        # audio lengths clipped to T = 7; vision lengths as given; text lengths = mask sum
        np.testing.assert_array_equal(s.lengths["audio"], np.minimum(d["audio_lengths"], 7))
        np.testing.assert_array_equal(s.lengths["vision"], d["vision_lengths"])
        np.testing.assert_array_equal(s.lengths["text"], d["text_bert"][:, 1].sum(1).astype(int))
        tb = s.extras["text_bert"]
        assert tb.dtype == np.int64 and tb.shape == (n, 3, 5)
        np.testing.assert_array_equal(tb, d["text_bert"].astype(np.int64))
        assert s.extras["classification_labels"].dtype == np.int64
        assert s.ids == d["id"] and s.raw_text == d["raw_text"]
        np.testing.assert_array_equal(s.labels, d["regression_labels"])
    assert max(data["train"]["audio_lengths"]) > 7  # the clipping above was exercised


def test_mmsa_missing_lengths_mean_full_length_and_no_text_bert(tmp_path):
    data = mmsa_dict()
    for d in data.values():
        del d["audio_lengths"], d["text_bert"]
    bundle = load_mmsa_pickle(dump(tmp_path / "x.pkl", data))
    s = bundle.split("valid")
    assert np.all(s.lengths["audio"] == 7) and np.all(s.lengths["text"] == 5)
    assert "text_bert" not in s.extras


def test_sims_layout_selects_sims_metrics(tmp_path):
    data = mmsa_dict()
    for d in data.values():
        n = len(d["regression_labels"])
        d["regression_labels"] = np.linspace(-1, 1, n).astype(np.float32)
        for k in "TAV":
            d[f"regression_labels_{k}"] = np.linspace(1, -1, n).reshape(n, 1)
    bundle = load_mmsa_pickle(dump(tmp_path / "sims.pkl", data), name="sims")
    assert bundle.name == "sims" and bundle.task.metrics == "sims" and bundle.task.label_range == (-1.0, 1.0)
    extra = bundle.split("test").extras
    assert extra["regression_labels_T"].shape == (5,) and extra["regression_labels_V"].dtype == np.float32


def test_non_finite_audio_vision_zeroed_with_one_counting_warning_per_split_and_key(tmp_path):
    data = mmsa_dict()
    data["train"]["audio"][0, 0, 0] = -np.inf
    data["train"]["audio"][2, 1, 3] = -np.inf
    data["train"]["audio"][3, 1, 3] = np.nan
    data["test"]["vision"][1, 0, :2] = [np.nan, np.inf]
    path = dump(tmp_path / "x.pkl", data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = load_mmsa_pickle(path)
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, NonFiniteWarning))
    assert len(messages) == 2
    assert "'test'" in messages[0] and "'vision'" in messages[0] and ": 2 non-finite" in messages[0]
    assert "'train'" in messages[1] and "'audio'" in messages[1] and ": 3 non-finite" in messages[1]
    audio = bundle.split("train").features["audio"]
    assert np.isfinite(audio).all() and audio[0, 0, 0] == 0 and audio[2, 1, 3] == 0 and audio[3, 1, 3] == 0
    np.testing.assert_allclose(audio[1], data["train"]["audio"][1].astype(np.float32))
    assert np.all(bundle.split("test").features["vision"][1, 0, :2] == 0)
    assert bundle.provenance["non_finite_set_to_zero"] == {"train": {"audio": 3}, "test": {"vision": 2}}


def test_non_finite_text_is_an_error(tmp_path):
    data = mmsa_dict()
    data["valid"]["text"][0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"split 'valid', key 'text': 1 non-finite"):
        load_mmsa_pickle(dump(tmp_path / "x.pkl", data))


def test_non_integral_text_bert_is_an_error(tmp_path):
    data = mmsa_dict()
    data["test"]["text_bert"][0, 0, 0] = 101.5
    with pytest.raises(ValueError, match=r"split 'test', key 'text_bert'.*integers.*\(5, 3, 5\)"):
        load_mmsa_pickle(dump(tmp_path / "x.pkl", data))


@pytest.mark.parametrize("case, pattern", [
    ("missing_split", r"missing split\(s\) \['valid'\]"),
    ("missing_labels", r"split 'test', key 'regression_labels': missing required key"),
    ("no_modality", r"split 'train': no modality key.*need at least one of \['text', 'audio', 'vision'\]"),
    ("n_mismatch", r"split 'train', key 'audio': shape \(7, 7, 4\) does not match 6 samples of "
                   r"'regression_labels' \(shape \(6,\)\)"),
    ("rank2_features", r"split 'valid', key 'vision': features must be \[N, T, D\] \(rank 3\), got shape \(4, 6\)"),
    ("rank2_lengths", r"split 'train', key 'audio_lengths': lengths must be \[N\] \(rank 1\), got shape \(6, 2\)"),
    ("wide_labels", r"split 'train', key 'regression_labels': must be \[N\] or \[N, 1\], got shape \(6, 2\)"),
    ("text_bert_rank", r"split 'train', key 'text_bert': must be \[N, 3, L\].*got shape \(6, 5\)"),
    ("id_mismatch", r"split 'valid', key 'id': shape \(3,\) does not match 4 samples"),
])
def test_mmsa_validation_errors_name_file_split_key_and_shape(tmp_path, case, pattern):
    data = mmsa_dict()
    train, valid = data["train"], data["valid"]
    if case == "missing_split":
        del data["valid"]
    elif case == "missing_labels":
        del data["test"]["regression_labels"]
    elif case == "no_modality":
        for k in ("text", "audio", "vision"):
            del train[k]
    elif case == "n_mismatch":
        train["audio"] = np.zeros((7, 7, 4))
    elif case == "rank2_features":
        valid["vision"] = valid["vision"][:, 0, :]
    elif case == "rank2_lengths":
        train["audio_lengths"] = np.ones((6, 2), dtype=int)
    elif case == "wide_labels":
        train["regression_labels"] = np.zeros((6, 2))
    elif case == "text_bert_rank":
        train["text_bert"] = train["text_bert"][:, 0]
    elif case == "id_mismatch":
        valid["id"] = valid["id"][:3]
    path = dump(tmp_path / "bad.pkl", data)
    with pytest.raises(ValueError, match=pattern) as info:
        load_mmsa_pickle(path)
    assert str(path) in str(info.value)


def test_labels_as_column_vector_are_accepted(tmp_path):
    data = mmsa_dict()
    for d in data.values():
        d["regression_labels"] = d["regression_labels"].reshape(-1, 1)
    bundle = load_mmsa_pickle(dump(tmp_path / "x.pkl", data))
    assert bundle.split("train").labels.shape == (6,)


# ----------------------------------------------------------------------------- MulT reader and detection

def mult_dict(seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    return {
        split: {
            "text": rng.normal(size=(n, 4, 10)).astype(np.float32),
            "audio": rng.normal(size=(n, 4, 5)).astype(np.float32),
            "vision": rng.normal(size=(n, 4, 3)).astype(np.float32),
            "labels": rng.uniform(-3, 3, (n, 1, 1)).astype(np.float32),
            "id": np.array([[f"video{i}", str(i)] for i in range(n)]),
        }
        for split, n in SIZES.items()
    }


def test_mult_layout(tmp_path):
    data = mult_dict()
    data["train"]["audio"][0, 0, 0] = -np.inf
    path = dump(tmp_path / "mosi_data.pkl", data)
    with pytest.warns(NonFiniteWarning, match=r"'train', key 'audio': 1 non-finite"):
        bundle = load_mult_pickle(path)
    assert bundle.task.metrics == "msa" and bundle.dims() == {"text": 10, "audio": 5, "vision": 3}
    s = bundle.split("valid")
    np.testing.assert_array_equal(s.labels, data["valid"]["labels"].reshape(-1))
    assert s.ids[:2] == ["video0_0", "video1_1"] and np.all(s.lengths["text"] == 4)
    with pytest.warns(NonFiniteWarning):
        again = read_any(path)
    np.testing.assert_array_equal(again.split("test").labels, bundle.split("test").labels)


def test_mult_validation(tmp_path):
    data = mult_dict()
    data["test"]["labels"] = np.zeros((5, 4, 2))
    with pytest.raises(ValueError, match=r"bad\.pkl: split 'test', key 'labels'.*got shape \(5, 4, 2\)"):
        load_mult_pickle(dump(tmp_path / "bad.pkl", data))
    data = mult_dict()
    data["valid"]["text"] = np.zeros((3, 4, 10))
    with pytest.raises(ValueError, match=r"split 'valid', key 'text': shape \(3, 4, 10\) does not match 4"):
        load_mult_pickle(dump(tmp_path / "bad2.pkl", data))


def test_read_any_detects_layouts_and_lists_keys(tmp_path):
    mmsa = read_any(dump(tmp_path / "a.pkl", mmsa_dict()))
    assert mmsa.provenance["format"] == "mmsa"
    mult = read_any(dump(tmp_path / "b.pkl", mult_dict()))
    assert mult.provenance["format"] == "mult"
    unknown = {s: {"feats": np.zeros((2, 3)), "y": np.zeros(2)} for s in SIZES}
    with pytest.raises(ValueError, match=r"split keys found: \['feats', 'y'\]"):
        read_any(dump(tmp_path / "c.pkl", unknown))
    with pytest.raises(ValueError, match=r"keys found: \['foo'\]"):
        read_any(dump(tmp_path / "d.pkl", {"foo": 1}))
    (tmp_path / "e.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="not a readable pickle"):
        read_any(tmp_path / "e.pkl")
    with pytest.raises(ValueError, match="without dataset.json"):
        read_any(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_any(tmp_path / "missing.pkl")


# ----------------------------------------------------------------------------- real data

@pytest.mark.realdata
def test_real_mosi_utterance_pickle(data_root):
    path = data_root / "mosi_utterance" / "mosi_utterance.pkl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    bundle = load_mmsa_pickle(path, name="mosi_utterance")
    assert {k: len(v) for k, v in bundle.splits.items()} == {"train": 1444, "valid": 291, "test": 460}
    assert bundle.dims() == {"text": 100, "audio": 73, "vision": 100}
    assert bundle.task.metrics == "msa"
    for s in bundle.splits.values():
        assert s.labels.dtype == np.float32 and np.all(np.abs(s.labels) <= 3)
        assert all(np.isfinite(x).all() for x in s.features.values())
        assert len(set(s.ids)) == len(s) and s.raw_text is not None
        assert set(np.unique(s.extras["classification_labels"])) <= {0, 1, 2}
