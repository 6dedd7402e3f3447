"""A checkpoint applied to data it was not trained for is refused before running, naming the difference."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from mmaffect.cli import main
from tests.reliability.cli_checks import one_line_error



@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", "--seeds", "1", "--set", "optim.max_epochs=1", "--out", str(out)]) == 0
    return out


def _native(tmp_path, change):
    from mmaffect.data.native import write_native
    from mmaffect.data.synthetic import make_synthetic

    bundle = change(make_synthetic(sizes=(40, 20, 20)))
    write_native(bundle, tmp_path / "ds")
    return str(tmp_path / "ds")


def test_other_dims_are_named(run_dir, tmp_path, capsys):
    from mmaffect.data.synthetic import make_synthetic

    dims = dict(make_synthetic(sizes=(4, 4, 4)).dims())
    first = sorted(dims)[0]
    dims[first] += 3
    data = _native(tmp_path, lambda b: make_synthetic(sizes=(40, 20, 20), dims=dims))
    assert main(["evaluate", str(run_dir), "--data", data]) == 2
    one_line_error(capsys, repr(first), str(dims[first]))


def test_regression_checkpoint_on_classification_data(run_dir, tmp_path, capsys):
    def to_classes(bundle):
        task = bundle.task.model_copy(update={"kind": "classification", "metrics": "classification",
                                              "num_classes": 2, "label_names": ["neg", "pos"], "label_range": None})
        for split in bundle.splits.values():
            split.labels = (split.labels > 0).astype(np.int64)
        bundle.task = task
        return bundle

    data = _native(tmp_path, to_classes)
    assert main(["evaluate", str(run_dir), "--data", data]) == 2
    one_line_error(capsys, "kind", "classification", "regression")


def test_edited_checkpoint_json(run_dir, tmp_path, capsys):
    copy = tmp_path / "ckpt"
    shutil.copytree(run_dir / "seed_1", copy)
    description = json.loads((copy / "checkpoint.json").read_text())
    first = sorted(description["dims"])[0]
    description["dims"][first] += 5
    (copy / "checkpoint.json").write_text(json.dumps(description))
    assert main(["evaluate", str(copy), "--data", "synthetic"]) == 2
    one_line_error(capsys, "model.safetensors", "checkpoint.json")


def test_missing_modality(run_dir, tmp_path, capsys):
    from mmaffect.data.synthetic import make_synthetic

    def drop(bundle):
        return bundle.with_modalities(sorted(bundle.modalities)[1:])

    data = _native(tmp_path, drop)
    first = sorted(make_synthetic(sizes=(4, 4, 4)).modalities)[0]
    assert main(["predict", str(run_dir), "--data", data, "--out", str(tmp_path / "p.csv")]) == 2
    one_line_error(capsys, first)
    assert not (tmp_path / "p.csv").exists()
