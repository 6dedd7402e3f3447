"""The restricted unpickler bounds what a pickle can make the process allocate, relative to its size.

Each hostile pickle below is a few dozen bytes (or a few MB) and, before the bound, made ``safe_load``
allocate gigabytes or crash NumPy; each must now be refused with an error naming the file and the global
or size at fault. Legitimate pickles (every protocol, NumPy arrays of every kind, the real MOSI pickle)
must still load, with the constant slack set to zero so that the factor alone is exercised.
"""

from __future__ import annotations

import io
import pickle
import struct

import numpy as np
import pytest

from mmaffect.data import safe_pickle
from mmaffect.data.safe_pickle import UnsafePickleError, safe_load
from mmaffect.errors import DataError

_RECONSTRUCT = b"cnumpy._core.multiarray\n_reconstruct\n"


def _int4(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)


class _Reduces:
    """An object that pickles as ``func(*args)`` followed by ``BUILD(state)``: hand-made hostile pickles."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def _array(state) -> _Reduces:
    return _Reduces(np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"), state)


def test_bytearray_by_count_is_refused(tmp_path):
    blob = b"\x80\x02c__builtin__\nbytearray\n" + _int4(2_400_000_000 // 2) + b"\x85R."
    path = tmp_path / "tiny.pkl"
    path.write_bytes(blob)
    assert len(blob) < 40
    with pytest.raises(UnsafePickleError, match=rf"{path}.*bytearray.*by count"):
        safe_load(path)


def test_list_of_range_is_refused():
    blob = b"\x80\x02c__builtin__\nlist\nc__builtin__\nrange\n" + _int4(300_000_000) + b"\x85R\x85R."
    with pytest.raises(UnsafePickleError, match=r"<stream>.*range"):
        safe_load(io.BytesIO(blob))


def test_reconstruct_with_a_huge_shape_is_refused():
    blob = b"\x80\x02" + _RECONSTRUCT + b"cnumpy\nndarray\n" + _int4(1 << 30) + b"\x85C\x02f8\x87R."
    with pytest.raises(UnsafePickleError, match=r"_reconstruct.*8,589,934,592 bytes"):
        safe_load(io.BytesIO(blob))


def test_direct_ndarray_call_is_refused():
    blob = b"\x80\x02cnumpy\nndarray\n" + _int4(1 << 28) + b"\x85\x85R."
    with pytest.raises(UnsafePickleError, match=r"numpy\.ndarray"):
        safe_load(io.BytesIO(blob))


def test_one_buffer_reused_by_many_arrays_is_counted():
    """A 1 MiB big-endian buffer memoised once and given to 300 arrays: NumPy copies it each time (300 MiB)."""
    data = bytes(8 << 17)
    arrays = [_array((1, (1 << 17,), np.dtype(">f8"), False, data)) for _ in range(300)]
    blob = pickle.dumps(arrays, protocol=2)
    assert len(blob) < 2 << 20 and 300 * len(data) > safe_pickle.ALLOCATION_FACTOR * len(blob) + safe_pickle.ALLOCATION_SLACK
    with pytest.raises(UnsafePickleError, match=r"array of shape \(131072,\).*would allocate"):
        safe_load(io.BytesIO(blob))
    # the same construction with a few arrays stays within the bound
    assert len(safe_load(io.BytesIO(pickle.dumps(arrays[:4], protocol=2)))) == 4


def test_object_array_state_must_match_its_shape():
    """NumPy crashes (segmentation fault) on an object-array state whose list is shorter than its shape."""
    blob = pickle.dumps(_array((1, (1_000_000,), np.dtype("O"), False, ["x"])), protocol=2)
    with pytest.raises(UnsafePickleError, match=r"object array of shape \(1000000,\) needs a list of 1000000"):
        safe_load(io.BytesIO(blob))


def test_array_state_must_match_its_data():
    blob = pickle.dumps(_array((1, (1 << 28,), np.dtype("f8"), False, b"12345678")), protocol=2)
    with pytest.raises(UnsafePickleError, match=r"needs 2,147,483,648 bytes of data, got 8"):
        safe_load(io.BytesIO(blob))


def test_forged_dtype_flags_are_refused():
    """A void dtype whose state claims it holds objects would make NumPy read raw bytes as pointers."""
    blob = pickle.dumps(_Reduces(np.dtype, ("V8", False, True), (3, "|", None, None, None, 8, 1, 63)), protocol=2)
    with pytest.raises(UnsafePickleError, match=r"forged dtype"):
        safe_load(io.BytesIO(blob))


def test_huge_void_dtype_is_refused():
    blob = pickle.dumps(_Reduces(np.dtype, ("V8", False, True), (3, "|", None, None, None, 1 << 40, 1, 0)))
    with pytest.raises(UnsafePickleError, match=r"itemsize 1,099,511,627,776"):
        safe_load(io.BytesIO(blob))


def test_refusal_is_a_data_error():
    with pytest.raises(DataError):
        safe_load(io.BytesIO(b"\x80\x02c__builtin__\nbytearray\n" + _int4(1 << 30) + b"\x85R."))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_legitimate_pickles_fit_the_factor_alone(protocol, monkeypatch):
    monkeypatch.setattr(safe_pickle, "ALLOCATION_SLACK", 0)
    rng = np.random.default_rng(0)
    values = {
        "features": rng.normal(size=(40, 20, 8)).astype(np.float32),
        "big_endian": np.arange(100, dtype=">f8"),
        "ids": np.array([f"clip_{i}" for i in range(300)], dtype=object),
        "repeated": np.array(["same"] * 300, dtype=object),
        "raw_text": np.array(["a b c", "d"] * 50),
        "record": np.zeros(3, dtype=[("a", "f4"), ("b", "i8")]),
        "subarray": np.zeros(2, dtype=("f8", (3,))),
        "scalars": [np.float32(1.5), np.int64(-3), 1 + 2j, bytearray(b"ab"), {1, 2}, frozenset({"x"})],
    }
    blob = pickle.dumps(values, protocol=protocol)
    out, reference = safe_load(io.BytesIO(blob)), pickle.loads(blob)  # our own blob: the plain loader is the reference
    for key, want in reference.items():
        if isinstance(want, np.ndarray):
            assert out[key].dtype == want.dtype and np.array_equal(out[key], want), key
        else:
            assert out[key] == want, key


def test_real_mosi_pickle_still_loads(data_root):
    path = data_root / "mosi_utterance" / "mosi_utterance.pkl"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with open(path, "rb") as f:
        reference = pickle.load(f, encoding="latin1")  # trusted local fixture: compare against the plain loader
    loaded = safe_load(path)
    assert type(loaded) is type(reference)
    flat = lambda obj: [obj] if not isinstance(obj, (dict, list, tuple)) else [  # noqa: E731
        x for v in (obj.values() if isinstance(obj, dict) else obj) for x in flat(v)]
    for got, want in zip(flat(loaded), flat(reference), strict=True):
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and np.array_equal(got, want)
