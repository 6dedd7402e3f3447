"""The native on-disk format: round trip, memory mapping, adding a modality, checksums, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import mmaffect.data.native as native
from mmaffect.data.bundle import DatasetBundle, SplitData
from mmaffect.data.registry import read_path as read_any
from mmaffect.data.native import (
    ChecksumError, add_modality, commit_array, open_array_for_writing, read_native, write_native,
)
from mmaffect.types import TaskSpec

SIZES = {"train": 7, "valid": 3, "test": 4}


def small_bundle(seed: int = 0) -> DatasetBundle:
    rng = np.random.default_rng(seed)
    splits = {}
    for name, n in SIZES.items():
        splits[name] = SplitData(
            features={
                "text": rng.normal(size=(n, 5, 6)).astype(np.float32),
                "audio": rng.normal(size=(n, 8, 3)).astype(np.float64),  # stored as float32
            },
            lengths={"text": rng.integers(1, 6, n), "audio": rng.integers(1, 9, n).astype(np.int32)},
            labels=rng.uniform(-3, 3, n).astype(np.float32),
            ids=[f"{name}-{i}" for i in range(n)],
            raw_text=[f"ünïcode text {i}\nwith a newline" for i in range(n)],
            extras={
                "text_bert": rng.integers(0, 30000, (n, 3, 5)),
                "classification_labels": rng.integers(0, 3, n),
                "flag": rng.random(n) > 0.5,
            },
        )
    task = TaskSpec(kind="regression", metrics="msa", label_range=(-3.0, 3.0))
    return DatasetBundle("tiny", task, splits, {"source": Path("/somewhere/x.pkl"), "count": np.int64(3),
                                                "object": object()})


def assert_same_bundle(got: DatasetBundle, want: DatasetBundle) -> None:
    assert got.name == want.name and got.task == want.task
    assert list(got.splits) == list(want.splits) and got.modalities == want.modalities
    for name, w in want.splits.items():
        g = got.split(name)
        for m in w.features:
            assert g.features[m].dtype == np.float32
            np.testing.assert_array_equal(g.features[m], w.features[m].astype(np.float32))
            assert g.lengths[m].dtype == np.int64
            np.testing.assert_array_equal(g.lengths[m], w.lengths[m])
        np.testing.assert_array_equal(g.labels, w.labels)
        assert g.labels.dtype == w.labels.dtype
        assert g.ids == w.ids and g.raw_text == w.raw_text
        assert set(g.extras) == set(w.extras)
        for k, v in w.extras.items():
            assert g.extras[k].dtype == v.dtype
            np.testing.assert_array_equal(g.extras[k], v)


def test_round_trip_with_extras(tmp_path):
    bundle = small_bundle()
    out = write_native(bundle, tmp_path / "tiny")
    assert out == tmp_path / "tiny"
    assert_same_bundle(read_native(out, mmap=False), bundle)
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["format"] == "mmaffect-native" and meta["version"] == 1
    assert meta["modalities"] == {"text": {"dim": 6}, "audio": {"dim": 3}}
    assert {s: v["size"] for s, v in meta["splits"].items()} == SIZES
    assert meta["provenance"]["source"] == "/somewhere/x.pkl" and meta["provenance"]["count"] == 3
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"dataset.json"}
    assert set(meta["checksums"]) == files
    assert {p.name for p in (out / "train").iterdir()} == {
        "text.npy", "text.lengths.npy", "audio.npy", "audio.lengths.npy", "labels.npy", "index.jsonl",
        "extra.text_bert.npy", "extra.classification_labels.npy", "extra.flag.npy"}
    first = json.loads((out / "valid" / "index.jsonl").read_text().splitlines()[0])
    assert first == {"id": "valid-0", "raw_text": "ünïcode text 0\nwith a newline"}
    for f in out.rglob("*.npy"):  # no pickle anywhere
        np.load(f, allow_pickle=False)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]  # no temporary leftovers


def test_memory_mapped_reading(tmp_path):
    out = write_native(small_bundle(), tmp_path / "tiny")
    bundle = read_native(out)  # mmap=True by default
    x = bundle.split("train").features["text"]
    assert isinstance(x, np.memmap) and not x.flags.writeable
    assert isinstance(bundle.split("train").extras["text_bert"], np.memmap)
    plain = read_native(out, mmap=False).split("train").features["text"]
    assert not isinstance(plain, np.memmap)
    np.testing.assert_array_equal(x, plain)
    rows = bundle.split("train").select(np.array([0, 2]))
    assert rows.features["audio"].shape == (2, 8, 3)
    assert read_any(out).name == "tiny" and read_any(out / "dataset.json").name == "tiny"


@pytest.mark.skipif("texts" not in SplitData.__dataclass_fields__, reason="SplitData has no texts field")
def test_named_text_fields_round_trip(tmp_path):
    bundle = small_bundle()
    for s in bundle.splits.values():
        s.texts = {"description": [f"a photo of {i}" for i in range(len(s))], "caption": ["é"] * len(s)}
    back = read_native(write_native(bundle, tmp_path / "tiny"))
    for name, s in bundle.splits.items():
        assert back.split(name).texts == s.texts
    assert read_native(write_native(small_bundle(), tmp_path / "plain")).split("test").texts == {}


def test_no_raw_text_and_classification_labels(tmp_path):
    bundle = small_bundle()
    for s in bundle.splits.values():
        s.raw_text = None
        s.labels = np.arange(len(s)) % 2
        s.extras = {}
    bundle.task = TaskSpec(kind="classification", metrics="binary", num_classes=2, label_names=["neg", "pos"])
    back = read_native(write_native(bundle, tmp_path / "cls"))
    assert back.split("test").raw_text is None and back.split("test").labels.dtype == bundle.split("test").labels.dtype
    assert back.task == bundle.task


def test_add_modality(tmp_path):
    out = write_native(small_bundle(), tmp_path / "tiny")
    before = json.loads((out / "dataset.json").read_text())["checksums"]
    rng = np.random.default_rng(5)
    arrays = {s: rng.normal(size=(n, 1, 4)).astype(np.float32) for s, n in SIZES.items()}
    lengths = {s: np.ones(n, dtype=np.int64) for s, n in SIZES.items()}
    add_modality(out, "text_minilm", arrays, lengths)
    bundle = read_native(out, verify=True)
    assert bundle.modalities == ["text", "audio", "text_minilm"]
    assert bundle.dims()["text_minilm"] == 4
    for s in SIZES:
        np.testing.assert_array_equal(bundle.split(s).features["text_minilm"], arrays[s])
        np.testing.assert_array_equal(bundle.split(s).lengths["text_minilm"], lengths[s])
    after = json.loads((out / "dataset.json").read_text())["checksums"]
    assert {k: after[k] for k in before} == before  # the other files were not rewritten
    with pytest.raises(ValueError, match="already exists"):
        add_modality(out, "text_minilm", arrays, lengths)
    with pytest.raises(ValueError, match=r"must cover splits \['test', 'train', 'valid'\], got \['test', 'train'\]"):
        add_modality(out, "other", {s: arrays[s] for s in ("train", "test")}, lengths)
    bad = dict(arrays, valid=np.zeros((2, 1, 4), np.float32))
    with pytest.raises(ValueError, match=r"'valid', modality 'other': expected \[3, T, D\], got shape \(2, 1, 4\)"):
        add_modality(out, "other", bad, lengths)
    with pytest.raises(ValueError, match=r"lengths of 'other' must be integers in \[0, 1\]"):
        add_modality(out, "other", arrays, dict(lengths, train=np.full(7, 2)))
    with pytest.raises(ValueError, match="cannot be stored"):
        add_modality(out, "bad.name", arrays, lengths)


def test_interrupted_add_modality_leaves_dataset_as_it_was(tmp_path, monkeypatch):
    out = write_native(small_bundle(), tmp_path / "tiny")
    meta_before = (out / "dataset.json").read_text()
    real = native._write_text

    def crash_on_metadata(path, text):
        if path.name == "dataset.json":
            raise KeyboardInterrupt
        return real(path, text)

    monkeypatch.setattr(native, "_write_text", crash_on_metadata)
    arrays = {s: np.zeros((n, 2, 4), np.float32) for s, n in SIZES.items()}
    lengths = {s: np.full(n, 2) for s, n in SIZES.items()}
    with pytest.raises(KeyboardInterrupt):
        add_modality(out, "new", arrays, lengths)
    monkeypatch.undo()
    assert (out / "dataset.json").read_text() == meta_before
    assert read_native(out, verify=True).modalities == ["text", "audio"]
    add_modality(out, "new", arrays, lengths)  # a re-run completes
    assert read_native(out, verify=True).modalities == ["text", "audio", "new"]
    assert not [p for p in out.rglob(".*tmp-*")]


def test_checksum_verify_detects_a_corrupted_file(tmp_path):
    out = write_native(small_bundle(), tmp_path / "tiny")
    target = out / "valid" / "audio.npy"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0xFF  # flip the last data byte; the header (and so the shape) stay valid
    stat = target.stat()
    target.write_bytes(bytes(raw))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime as recorded
    read_native(out)  # so without verify the file is not hashed (reads stay cheap)
    with pytest.raises(ChecksumError, match=r"valid/audio\.npy: sha256"):
        read_native(out, verify=True)
    (out / "test" / "index.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match=r"test/index\.jsonl"):
        read_native(out)


def test_interrupted_write_leaves_no_half_dataset(tmp_path, monkeypatch):
    real = native._write_split
    calls = []

    def crash_on_second_split(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(native, "_write_split", crash_on_second_split)
    with pytest.raises(KeyboardInterrupt):
        write_native(small_bundle(), tmp_path / "tiny")
    assert list(tmp_path.iterdir()) == []  # neither the dataset nor a temporary directory
    monkeypatch.undo()

    # Replacing an existing dataset: an interruption keeps the old one whole.
    out = write_native(small_bundle(seed=1), tmp_path / "tiny")
    calls.clear()
    monkeypatch.setattr(native, "_write_split", crash_on_second_split)
    with pytest.raises(KeyboardInterrupt):
        write_native(small_bundle(seed=2), out, overwrite=True)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]
    assert_same_bundle(read_native(out, verify=True), small_bundle(seed=1))
    write_native(small_bundle(seed=2), out, overwrite=True)
    assert_same_bundle(read_native(out, verify=True), small_bundle(seed=2))


def test_existing_targets(tmp_path):
    (tmp_path / "empty").mkdir()
    write_native(small_bundle(), tmp_path / "empty")  # an empty directory is fine
    assert (tmp_path / "empty" / "dataset.json").is_file()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_native(small_bundle(), tmp_path / "empty")


def test_unstorable_inputs_are_refused(tmp_path):
    bundle = small_bundle()
    bundle.split("train").extras["objects"] = np.array([object()] * 7, dtype=object)
    with pytest.raises(ValueError, match="object arrays cannot be stored"):
        write_native(bundle, tmp_path / "a")
    bundle = small_bundle()
    for s in bundle.splits.values():
        s.extras["../escape"] = np.zeros(len(s))
    with pytest.raises(ValueError, match="extra name '../escape' cannot be stored"):
        write_native(bundle, tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


def test_bad_metadata_errors(tmp_path):
    out = write_native(small_bundle(), tmp_path / "tiny")
    meta = json.loads((out / "dataset.json").read_text())
    meta["version"] = 99
    (out / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="version 99"):
        read_native(out)
    with pytest.raises(FileNotFoundError, match="no dataset.json"):
        read_native(tmp_path)


def test_resumable_array_writing(tmp_path):
    path = tmp_path / "feat.npy"
    arr = open_array_for_writing(path, (6, 2, 3))
    arr[:3] = 1.0
    arr.flush()
    del arr
    assert not path.exists() and Path(f"{path}.partial").exists()
    again = open_array_for_writing(path, (6, 2, 3), resume=True)
    assert np.all(again[:3] == 1.0)  # rows written before the interruption are kept
    again[3:] = 2.0
    commit_array(path, again)
    del again
    result = np.load(path, allow_pickle=False)
    assert result.shape == (6, 2, 3) and np.all(result[:3] == 1) and np.all(result[3:] == 2)
    fresh = open_array_for_writing(path, (4, 2, 3), resume=True)  # other shape: started afresh
    assert fresh.shape == (4, 2, 3) and np.all(fresh == 0)
