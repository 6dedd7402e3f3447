"""Manifest labels: the label type is inferred (and can be forced), bad labels are refused by file and line."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from mmaffect.cli import main
from mmaffect.data.formats.manifest import read_manifest
from mmaffect.data.native import read_native
from mmaffect.errors import ConfigError, DataError

HEADER = "id,text,label,split\n"
SPLITS = ("train", "train", "train", "valid", "test")


def write_rows(path, labels, splits=SPLITS):
    path.write_text(HEADER + "".join(f"s{i},text {i},{v},{splits[i % len(splits)]}\n" for i, v in enumerate(labels)))
    return path


def test_continuous_labels_in_msa_range_become_regression_with_msa_metrics(tmp_path):
    labels = [f"{v:.3f}" for v in np.random.default_rng(0).uniform(-3, 3, 40)]
    messages = []
    bundle = read_manifest(write_rows(tmp_path / "mosei.csv", labels), log=messages.append)
    assert bundle.task.kind == "regression" and bundle.task.metrics == "msa"
    assert bundle.task.label_range == (-3.0, 3.0)
    assert bundle.split("train").labels.dtype == np.float32
    np.testing.assert_allclose(bundle.split("train").labels[:2], [float(labels[0]), float(labels[1])], rtol=1e-6)
    assert any("regression in [-3, 3] (msa metrics)" in m and "40 distinct" in m and "--task" in m for m in messages)


def test_labels_in_unit_range_get_sims_metrics(tmp_path):
    labels = [f"{v:.2f}" for v in np.random.default_rng(1).uniform(-1, 1, 30)]
    bundle = read_manifest(write_rows(tmp_path / "sims.csv", labels), log=None)
    assert (bundle.task.kind, bundle.task.metrics, bundle.task.label_range) == ("regression", "sims", (-1.0, 1.0))


def test_few_integer_values_are_classes_named_by_value(tmp_path):
    bundle = read_manifest(write_rows(tmp_path / "c.csv", [(0, 1, 5)[i % 3] for i in range(30)]), log=None)
    assert bundle.task.kind == "classification" and bundle.task.num_classes == 3
    assert bundle.task.label_names == ["0", "1", "5"]
    assert sorted(set(bundle.split("train").labels.tolist())) == [0, 1, 2]


def test_task_and_metrics_can_be_forced(tmp_path):
    path = write_rows(tmp_path / "c.csv", [(-3, -1, 0, 1, 3)[i % 5] for i in range(40)], SPLITS + ("train",))
    assert read_manifest(path, log=None).task.kind == "classification"
    forced = read_manifest(path, task="regression", log=None)
    assert forced.task.kind == "regression" and forced.task.metrics == "msa"
    assert read_manifest(path, task="regression", metrics="sims", log=None).task.metrics == "sims"
    with pytest.raises(ConfigError, match="do not fit a regression"):
        read_manifest(path, task="regression", metrics="binary", log=None)
    out = tmp_path / "native"
    assert main(["convert", str(path), str(out), "--task", "regression", "--metrics", "msa"]) == 0
    assert read_native(out).task.kind == "regression"


def test_cli_convert_prints_what_was_inferred(tmp_path, capsys):
    labels = [f"{v:.2f}" for v in np.random.default_rng(2).uniform(-3, 3, 25)]
    assert main(["convert", str(write_rows(tmp_path / "m.csv", labels)), str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "labels: regression in [-3, 3] (msa metrics), inferred from 25 distinct numeric values" in out


@pytest.mark.parametrize("labels, match", [
    (["pos", "neg", "1", "pos", "neg"], r"m\.csv:2: 'pos' and .*m\.csv:4: '1'"),            # names and numbers
    (["pos", "neg", "POS", "pos", "neg"], r"'pos' \(.*m\.csv:2\) and 'POS' \(.*m\.csv:4\) are two spellings"),
    (["pos", "neg", "pos", "neu", "neg"], r"m\.csv:5: label 'neu' of split 'valid' never occurs in train"),
    (["pos", "neg", "pos", "neg", "neu"], r"m\.csv:6: label 'neu' of split 'test' never occurs in train"),
    (["pos", "pos", "pos", "pos", "pos"], r"every label is 'pos'.*at least two classes"),
    (["1", "0", "nan", "1", "0"], r"m\.csv:4: label 'nan' is not a finite number"),
])
def test_bad_labels_are_refused_naming_line_and_value(tmp_path, labels, match):
    with pytest.raises(DataError, match=match):
        read_manifest(write_rows(tmp_path / "m.csv", labels), log=None)


def test_duplicate_ids_are_refused_naming_both_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(HEADER + "a,x,pos,train\nb,y,neg,train\nc,z,pos,valid\na,w,neg,test\n")
    with pytest.raises(DataError, match=r"d\.csv:5: id 'a' already used at .*d\.csv:2"):
        read_manifest(path, log=None)


def test_typo_label_allocates_nothing_by_value_and_is_warned_by_line(tmp_path):
    labels = [i % 2 for i in range(40)] + [100000000]
    messages = []
    tracemalloc.start()
    try:
        bundle = read_manifest(write_rows(tmp_path / "t.csv", labels), log=messages.append)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20  # the old reader sized a one-hot space by the largest label: GBs
    assert bundle.task.num_classes == 3 and bundle.task.label_names == ["0", "1", "100000000"]
    assert any("t.csv:42" in m and "100000000" in m and "far outside" in m for m in messages)


def test_regression_outlier_is_warned(tmp_path):
    labels = [f"{v:.2f}" for v in np.random.default_rng(3).uniform(-3, 3, 40)] + ["250.5"]
    messages = []
    bundle = read_manifest(write_rows(tmp_path / "r.csv", labels), log=messages.append)
    assert bundle.task.kind == "regression"
    assert any("r.csv:42" in m and "250.5" in m for m in messages)


def test_json_data_file_lists_the_accepted_formats(tmp_path, capsys):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([{"id": "a", "text": "x", "label": 1}]))
    assert main(["convert", str(path), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "not a readable pickle" not in err
    assert "dataset.json" in err and "pickle" in err and ".csv/.tsv/.jsonl" in err
