"""eGeMAPS (openSMILE): shapes, names, the pitch of a known harmonic tone, too-short signals refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("opensmile")

from mmaffect.encoders.egemaps import PROSODY_FUNCTIONALS, EgemapsEncoder, prosody  # noqa: E402
from mmaffect.errors import MediaError  # noqa: E402


@pytest.fixture(scope="module")
def egemaps():
    return EgemapsEncoder()


def voiced(f0: float, seconds: float = 2.0, rate: int = 16_000) -> np.ndarray:
    """A harmonic tone (8 harmonics, 1/k amplitudes) with a slow amplitude envelope: a crude vowel."""
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 9))
    return (0.2 * wave * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def test_low_level_descriptors(egemaps):
    lld = egemaps.low_level(voiced(200.0))
    assert lld.values.shape[1] == 25 and len(lld.names) == 25
    assert 190 <= len(lld.values) <= 200  # ~100 per second
    np.testing.assert_allclose(np.diff(lld.starts), 0.01, atol=1e-9)
    assert np.isfinite(lld.values).all()


def test_pitch_of_a_known_tone(egemaps):
    functionals = egemaps.functionals(voiced(200.0))
    assert functionals.shape == (88,) and len(egemaps.functional_names) == 88
    words = egemaps.prosody(functionals)
    assert set(words) == set(PROSODY_FUNCTIONALS)
    expected = 12 * math.log2(200.0 / 27.5)  # semitones above 27.5 Hz
    assert abs(words["pitch_semitones_mean"] - expected) < 1.0
    higher = egemaps.prosody(egemaps.functionals(voiced(300.0)))
    assert higher["pitch_semitones_mean"] - words["pitch_semitones_mean"] == pytest.approx(12 * math.log2(1.5), abs=1.0)


def test_too_short_and_bad_shapes(egemaps):
    with pytest.raises(MediaError, match="too short"):
        egemaps.low_level(np.zeros(100, np.float32), name="tiny.wav")
    with pytest.raises(MediaError, match="zero length"):
        egemaps.functionals(np.zeros(0, np.float32))
    with pytest.raises(MediaError, match="88"):
        prosody(np.zeros(10), egemaps.functional_names)
