"""The benchmark family of a dataset: named readers set it, MMSA pickles are recognised, native records it."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from mmaffect.data.native import read_native, write_native
from mmaffect.data.registry import load_dataset
from mmaffect.data.synthetic import make_synthetic


def mmsa_pickle(path: Path, sizes: tuple[int, int, int], *, sims: bool = False) -> Path:
    """A minimal MMSA pickle with the given split sizes (one step per modality)."""
    rng = np.random.default_rng(0)
    data = {}
    for split, n in zip(("train", "valid", "test"), sizes):
        d = {m: rng.normal(size=(n, 1, 2)).astype(np.float32) for m in ("text", "audio", "vision")}
        d["regression_labels"] = rng.uniform(-1, 1, n).astype(np.float32)
        d["id"] = [f"{split}{i}" for i in range(n)]
        if sims:
            d["regression_labels_T"] = d["regression_labels"].copy()
        data[split] = d
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path


@pytest.mark.parametrize("sizes, sims, family", [
    ((1284, 229, 686), False, "mosi"),
    ((1444, 291, 460), False, "mosi"),
    ((16326, 1871, 4659), False, "mosei"),
    ((1368, 456, 457), True, "sims"),
    ((1368, 456, 457), False, None),   # SIMS sizes without the unimodal labels: not recognised
    ((10, 3, 4), False, None),
])
def test_pickle_family_from_content(tmp_path, sizes, sims, family):
    path = mmsa_pickle(tmp_path / "unaligned_50.pkl", sizes, sims=sims)
    bundle = load_dataset(str(path))
    assert bundle.family == family
    assert bundle.name == "unaligned_50"  # the name is the file's, the family the benchmark's


def test_native_records_family_and_old_files_read_as_none(tmp_path):
    path = mmsa_pickle(tmp_path / "aligned_50.pkl", (1284, 229, 686))
    out = write_native(load_dataset(str(path)), tmp_path / "native")
    assert read_native(out).family == "mosi"
    meta_path = out / "dataset.json"
    meta = json.loads(meta_path.read_text())
    del meta["family"]  # a dataset written before the family was recorded
    meta_path.write_text(json.dumps(meta))
    assert read_native(out).family is None


def test_named_readers_and_subsets_keep_family():
    bundle = make_synthetic(sizes=(8, 4, 4))
    assert bundle.family == "synthetic"
    assert bundle.with_modalities(bundle.modalities[:1]).family == "synthetic"


def test_named_benchmark_family(data_root):
    assert load_dataset("mosi_utterance", data_root=data_root).family == "mosi"
    assert load_dataset("mmsd", data_root=data_root).family == "mmsd"
