"""Whisper-base: frames kept for the real audio only, both windows, long signals, the real transcript."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

pytest.importorskip("faster_whisper")

from media_files import tone  # noqa: E402

from mmaffect.encoders.weights import WHISPER_BASE_MODEL_SHA256, whisper_base_dir  # noqa: E402
from mmaffect.io import file_sha256  # noqa: E402
from mmaffect.encoders.whisper import WhisperEncoder, frame_count  # noqa: E402
from mmaffect.errors import EncoderError, MediaError  # noqa: E402


@pytest.fixture(scope="module")
def whisper():
    try:
        return WhisperEncoder(threads=1)
    except EncoderError as err:  # the weight packages are not installed
        pytest.skip(str(err))


def test_frame_count_is_ceil_of_fifty_per_second():
    assert frame_count(16_000) == 50
    assert frame_count(16_001) == 51
    assert frame_count(1) == 1
    assert frame_count(int(1.3 * 16_000)) == math.ceil(1.3 * 50)


def test_frames_for_a_known_duration(whisper):
    frames = whisper.encode(tone(1.3, freq=220.0))
    assert frames.shape == (65, 512) and frames.dtype == np.float32
    assert np.isfinite(frames).all() and frames.std() > 0


def test_padded_window_same_count_and_close(whisper):
    padded = WhisperEncoder(threads=1, window="padded", batch_size=2)
    signals = [tone(0.7, freq=300.0), tone(1.1, freq=500.0), tone(0.4, freq=700.0)]
    together = padded.encode_batch(signals)
    assert [len(f) for f in together] == [35, 55, 20]
    alone = padded.encode(signals[1])
    np.testing.assert_allclose(together[1], alone, atol=1e-3)  # batching the windows changes nothing
    clip = whisper.encode(signals[1])
    cosine = (clip * alone).sum(1) / np.linalg.norm(clip, axis=1) / np.linalg.norm(alone, axis=1)
    assert cosine.mean() > 0.5  # the clip window approximates the padded one (0.93 on speech)


def test_long_signal_cut_in_thirty_second_pieces(whisper):
    frames = whisper.encode(tone(31.0, freq=250.0, amplitude=0.1))
    assert frames.shape == (1550, 512)


def test_bad_signals_refused(whisper):
    with pytest.raises(MediaError, match="zero length"):
        whisper.encode(np.zeros(0, np.float32))
    with pytest.raises(EncoderError, match="16000 Hz"):
        whisper.encode(tone(1.0), sample_rate=8000)
    with pytest.raises(MediaError, match="shape"):
        whisper.encode(np.zeros((2, 100), np.float32))
    with pytest.raises(EncoderError, match="window"):
        WhisperEncoder(window="packed")


def test_joined_weights_verified():
    try:
        folder = whisper_base_dir()
    except EncoderError as err:
        pytest.skip(str(err))
    assert file_sha256(folder / "model.bin") == WHISPER_BASE_MODEL_SHA256


def test_transcript_of_a_real_clip(whisper, data_root):
    from mmaffect.encoders.audio import load_audio

    path = data_root / "mosi_utterance" / "03bSnISJMiM_1.wav"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    audio = load_audio(path)
    transcript = whisper.transcribe(audio.samples)
    words = re.sub(r"[^a-z ]", "", transcript.text.lower()).split()
    assert words == "anyhow it was really good".split()
    assert [re.sub(r"[^a-z]", "", w.text.lower()) for w in transcript.words] == words
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts) and transcript.words[-1].end <= audio.duration + 0.5
    assert whisper.encode(audio.samples).shape == (math.ceil(audio.duration * 50), 512)
