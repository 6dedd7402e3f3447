"""Prediction on raw files with a checkpoint's own recipes: a wav end to end, recipes copied at training, mismatch refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("opensmile")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "encoders"))

from media_files import tone, write_wav  # noqa: E402

from mmaffect import api  # noqa: E402
from mmaffect.errors import CheckpointError, EncoderError  # noqa: E402
from mmaffect.evaluation.predict_raw import predict_raw_files  # noqa: E402
from mmaffect.training.checkpoint import load_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Low and high tones, eGeMAPS functionals, a one-seed early-fusion checkpoint."""
    root = tmp_path_factory.mktemp("raw")
    (root / "media").mkdir()
    lines = ["id,audio,text,label,split"]
    for i in range(24):
        freq = 200 if i % 2 == 0 else 900
        write_wav(root / "media" / f"c{i}.wav", tone(1.0, freq=freq * (1 + 0.02 * (i % 5))))
        split = "train" if i < 16 else ("valid" if i < 20 else "test")
        lines.append(f"c{i},media/c{i}.wav,words,{'low' if freq == 200 else 'high'},{split}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    api.convert(root / "manifest.csv", root / "data")
    api.extract(root / "data", encoder="egemaps-functionals", media={"progress": False})
    run = api.train("early_fusion", str(root / "data"), seeds=[1], out_dir=root / "run",
                    overrides=["optim.max_epochs=3"])
    return root, run.directory


def test_checkpoint_carries_the_recipes_of_its_modalities(trained):
    _, run = trained
    recipes = load_checkpoint(run).description["recipes"]
    assert set(recipes) == {"audio_egemaps_functionals"}
    assert recipes["audio_egemaps_functionals"]["feature_set"] == "eGeMAPSv02"


def test_predict_on_a_raw_wav_matches_the_dataset_route(trained):
    root, run = trained
    wav = root / "media" / "c20.wav"
    raw = api.predict_raw(run, audio=wav)
    assert raw.scores.shape == (1, 2) and np.isclose(raw.scores.sum(), 1.0, atol=1e-5)
    assert raw.label(0) in ("low", "high")
    # the same file through the dataset route (extract -> native -> the one inference loop) gives the same scores
    via_data = api.predict(run, str(root / "data"), split="test")
    row = via_data.ids.index("c20")
    np.testing.assert_allclose(raw.scores[0], via_data.scores[row], atol=1e-5)


def test_manifest_of_new_files_reports_failures_per_file(trained):
    root, run = trained
    (root / "new.csv").write_text("id,audio\nok,media/c3.wav\ngone,media/nowhere.wav\n")
    raw = predict_raw_files(load_checkpoint(run), manifest=root / "new.csv")
    assert raw.ids == ["ok"] and list(raw.failures) == ["gone"]


def test_recipe_mismatch_is_refused_naming_the_difference(trained, tmp_path):
    import shutil

    _, run = trained
    copy = tmp_path / "ckpt"
    shutil.copytree(load_checkpoint(run) and Path(api.checkpoint_dir(run)), copy)
    description = json.loads((copy / "checkpoint.json").read_text())
    description["recipes"]["audio_egemaps_functionals"]["opensmile"] = "0.0.1"
    (copy / "checkpoint.json").write_text(json.dumps(description))
    with pytest.raises(EncoderError, match="opensmile: stored '0.0.1'"):
        api.predict_raw(copy, audio=Path(__file__))
    del description["recipes"]
    (copy / "checkpoint.json").write_text(json.dumps(description))
    with pytest.raises(CheckpointError, match="no recipe"):
        api.predict_raw(copy, audio=Path(__file__))
