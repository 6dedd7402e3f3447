"""Audio decoding (PyAV): length and rate after resampling, mono mix, and every bad-media case."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("av")

from media_files import tone, write_video, write_wav  # noqa: E402

from mmaffect.encoders.audio import SAMPLE_RATE, load_audio  # noqa: E402
from mmaffect.errors import DataFileNotFoundError, MediaError  # noqa: E402


def test_wav_at_16k_keeps_samples(tmp_path):
    signal = tone(1.25)
    audio = load_audio(write_wav(tmp_path / "a.wav", signal))
    assert audio.sample_rate == SAMPLE_RATE and audio.samples.dtype == np.float32
    assert len(audio.samples) == len(signal)
    np.testing.assert_allclose(audio.samples, signal, atol=2 / 32767)


def test_resampled_and_mixed_to_mono(tmp_path):
    rate = 44_100
    left, right = tone(2.0, rate, 440.0, 0.4), tone(2.0, rate, 440.0, 0.2)
    audio = load_audio(write_wav(tmp_path / "s.wav", np.stack([left, right], axis=1), rate))
    assert abs(len(audio.samples) - 2.0 * SAMPLE_RATE) <= 16
    spectrum = np.abs(np.fft.rfft(audio.samples))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(audio.samples)
    assert abs(peak_hz - 440.0) < 2.0
    middle = audio.samples[4000:-4000]
    assert 0.25 < np.abs(middle).max() < 0.35  # the mean of the two channels, amplitude 0.3


def test_audio_track_of_a_video(tmp_path):
    audio = load_audio(write_video(tmp_path / "v.mp4", 25, audio=tone(1.0)))
    assert 0.95 < audio.duration < 1.2  # AAC adds priming samples
    assert np.abs(audio.samples).max() > 0.3


def test_undecodable_file_names_it(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(b"RIFF not really a wave file" * 20)
    with pytest.raises(MediaError, match="noise.wav"):
        load_audio(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="absent.wav"):
        load_audio(tmp_path / "absent.wav")


def test_no_audio_track(tmp_path):
    with pytest.raises(MediaError, match="no audio track"):
        load_audio(write_video(tmp_path / "silent.mp4", 10))


def test_zero_length(tmp_path):
    with pytest.raises(MediaError, match="zero length"):
        load_audio(write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32)))


def test_too_long_names_duration_or_truncates(tmp_path):
    path = write_wav(tmp_path / "long.wav", tone(3.0))
    with pytest.raises(MediaError, match=r"long.wav: 3\.0 s long, above the limit of 2 s"):
        load_audio(path, max_seconds=2)
    audio = load_audio(path, max_seconds=2, truncate=True)
    assert audio.truncated and len(audio.samples) == 2 * SAMPLE_RATE
    np.testing.assert_allclose(audio.samples, tone(2.0), atol=2 / 32767)
