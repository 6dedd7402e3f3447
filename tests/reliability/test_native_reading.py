"""Reading a native dataset refuses tampered or malformed files by name, cheaply by default.

Each test damages one file of a small dataset and, where a check other than the checksum is meant,
rewrites that file's sha256 and size/mtime stamp in ``dataset.json`` so that only the check under test
can catch it (as a buggy writer, not a tamperer, would leave it).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from mmaffect.data.native import ChecksumError, read_native, write_native
from mmaffect.data.synthetic import make_synthetic
from mmaffect.errors import DataError


@pytest.fixture
def dataset(tmp_path) -> Path:
    return write_native(make_synthetic(sizes=(12, 6, 6), seed=0), tmp_path / "ds")


def _replace(root: Path, rel: str, array: np.ndarray) -> None:
    """Write ``array`` to ``root/rel`` and record it in dataset.json as if the writer had made it."""
    np.save(root / rel, array, allow_pickle=False)
    meta = json.loads((root / "dataset.json").read_text())
    meta["checksums"][rel] = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    st = (root / rel).stat()
    meta["stamps"][rel] = [st.st_size, st.st_mtime_ns]
    (root / "dataset.json").write_text(json.dumps(meta))


def _same_stamp_write(path: Path, data: bytes) -> None:
    """Overwrite ``path`` keeping its size and mtime (the cheap check cannot see it)."""
    st = path.stat()
    assert len(data) == st.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_tampered_npy_header_is_refused_before_allocating(dataset):
    """The header claims [1e9, 50, 300] float32 (559 GiB); the file holds a few kB."""
    target = dataset / "train" / "text.npy"
    raw = target.read_bytes()
    header_len = raw.index(b"\n") + 1
    header = raw[:header_len].decode("latin1")
    shape = header[header.index("'shape': (") + 10: header.index(")", header.index("'shape': ("))]
    forged = header.replace(f"'shape': ({shape})", "'shape': (1000000000, 50, 300)").rstrip(" \n")
    forged = forged.ljust(header_len - 1) + "\n"  # the header is padded with spaces: same length
    assert len(forged) == header_len
    _same_stamp_write(target, forged.encode("latin1") + raw[header_len:])
    for mmap in (True, False):
        with pytest.raises(DataError, match=r"train/text\.npy: the header says shape \(1000000000, 50, 300\)"):
            read_native(dataset, mmap=mmap)


@pytest.mark.parametrize("rel, array, message", [
    ("train/audio.npy", lambda x: x.astype(np.float64), r"train/audio\.npy: dtype float64"),
    ("train/audio.npy", lambda x: x > 0, r"train/audio\.npy: features of dtype bool"),
    ("valid/labels.npy", lambda y: y.astype(np.complex64), r"valid/labels\.npy: labels of dtype complex64 \(complex\)"),
    ("valid/labels.npy", lambda y: y.astype(str), r"valid/labels\.npy: labels of dtype <U\d+ \(string\)"),
    ("test/vision.lengths.npy", lambda n: n.astype(np.float32), r"test/vision\.lengths\.npy: lengths of dtype float32"),
])
def test_wrong_dtypes_are_refused_by_file(dataset, rel, array, message):
    _replace(dataset, rel, array(np.load(dataset / rel)))
    with pytest.raises(DataError, match=message):
        read_native(dataset)


def test_lengths_outside_the_steps_are_refused(dataset):
    lengths = np.load(dataset / "train" / "audio.lengths.npy")
    steps = np.load(dataset / "train" / "audio.npy").shape[1]
    lengths[4] = steps + 1
    _replace(dataset, "train/audio.lengths.npy", lengths)
    with pytest.raises(DataError, match=rf"train/audio\.lengths\.npy: length {steps + 1} of sample 4 is outside \[0, {steps}\]"):
        read_native(dataset)
    lengths[4] = -1
    _replace(dataset, "train/audio.lengths.npy", lengths)
    with pytest.raises(DataError, match=r"length -1 of sample 4"):
        read_native(dataset)


def test_shapes_disagreeing_between_files_are_refused(dataset):
    lengths = np.load(dataset / "valid" / "text.lengths.npy")
    _replace(dataset, "valid/text.lengths.npy", lengths[:-1])
    with pytest.raises(DataError, match=r"valid/text\.lengths\.npy: shape \(5,\), expected \(6,\)"):
        read_native(dataset)


def test_steps_disagreeing_with_dataset_json_are_refused(dataset):
    x = np.load(dataset / "test" / "text.npy")
    _replace(dataset, "test/text.npy", np.concatenate([x, x], axis=1))
    with pytest.raises(DataError, match=r"test/text\.npy: \d+ steps, dataset.json says \d+"):
        read_native(dataset)


def test_non_finite_labels_are_refused(dataset):
    labels = np.load(dataset / "test" / "labels.npy")
    labels[2] = np.nan
    _replace(dataset, "test/labels.npy", labels)
    with pytest.raises(DataError, match=r"test/labels\.npy: label of sample 2 is nan"):
        read_native(dataset)


def test_nan_in_features_found_in_memory_sampled_when_mapped_whole_with_verify(tmp_path):
    out = write_native(make_synthetic(sizes=(200, 6, 6), seed=0), tmp_path / "ds")
    x = np.load(out / "train" / "audio.npy")
    x[0, 0, 0] = np.inf  # the first sample is always among the sampled ones
    _replace(out, "train/audio.npy", x)
    for mmap in (True, False):
        with pytest.raises(DataError, match=r"train/audio\.npy: sample 0 has NaN or infinite values"):
            read_native(out, mmap=mmap)
    x[0, 0, 0] = 0.0
    x[100, 0, 0] = np.nan  # 200 samples, 64 sampled evenly (0, 3, 6, 9, 13, ...): 100 is not among them
    _replace(out, "train/audio.npy", x)
    with pytest.raises(DataError, match=r"sample 100 has NaN"):
        read_native(out, mmap=False)  # in memory: checked whole
    read_native(out, mmap=True)  # memory-mapped: sampled, so this one is not seen ...
    with pytest.raises(DataError, match=r"sample 100 has NaN"):
        read_native(out, mmap=True, verify=True)  # ... unless asked


def test_classification_labels_outside_the_classes_are_refused(tmp_path):
    out = write_native(make_synthetic(sizes=(12, 6, 6), task="classification", num_classes=3, seed=0), tmp_path / "c")
    labels = np.load(out / "train" / "labels.npy")
    labels[0] = 7
    _replace(out, "train/labels.npy", labels)
    with pytest.raises(DataError, match=r"train/labels\.npy: class labels must lie in \[0, 3\)"):
        read_native(out)


def test_changed_size_or_mtime_triggers_the_checksum(dataset):
    index = dataset / "valid" / "index.jsonl"
    index.write_text(index.read_text().replace('"id": "', '"id": "x', 1))  # one byte longer
    with pytest.raises(ChecksumError, match=r"valid/index\.jsonl: sha256"):
        read_native(dataset)  # no verify=True needed: the size differs from the stamp


def test_same_size_new_mtime_triggers_the_checksum(dataset):
    target = dataset / "test" / "audio.npy"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0x01
    target.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match=r"test/audio\.npy: sha256"):
        read_native(dataset)


def test_datasets_without_stamps_are_hashed_only_on_request(dataset):
    meta = json.loads((dataset / "dataset.json").read_text())
    del meta["stamps"]
    (dataset / "dataset.json").write_text(json.dumps(meta))
    target = dataset / "test" / "audio.npy"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0x01
    target.write_bytes(bytes(raw))
    read_native(dataset)
    with pytest.raises(ChecksumError, match=r"test/audio\.npy"):
        read_native(dataset, verify=True)


def test_a_clean_dataset_reads_back(dataset):
    back = read_native(dataset, verify=True)
    again = read_native(dataset, mmap=False)
    for split in ("train", "valid", "test"):
        assert np.array_equal(back.split(split).labels, again.split(split).labels)
