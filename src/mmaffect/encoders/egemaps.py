"""eGeMAPS paralinguistic features by openSMILE (Eyben et al. 2016, "The Geneva Minimalistic Acoustic
Parameter Set (GeMAPS) for Voice Research and Affective Computing", IEEE Trans. Affective Computing 7(2)).

Feature set eGeMAPSv02 (``opensmile`` package, audEERING):

- :meth:`EgemapsEncoder.low_level`: the 25 low-level descriptors (pitch, loudness, jitter, shimmer, HNR,
  formants, spectral slopes, MFCC 1–4, …) every 10 ms — openSMILE's frames, about 100 per second (a 3 s
  signal gives 296 rows: the analysis windows must fit inside the signal).
- :meth:`EgemapsEncoder.functionals`: the 88 functionals of the whole signal (means, coefficients of
  variation, percentiles, slopes, rates of voiced segments and loudness peaks).

Column names are kept (:attr:`EgemapsEncoder.lld_names`, :attr:`EgemapsEncoder.functional_names`) and
:func:`prosody` picks the few functionals that describe a voice in words (pitch, loudness, rate,
voice quality).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Any

import warnings

import numpy as np

from mmaffect.encoders.audio import SAMPLE_RATE, check_signal
from mmaffect.errors import MediaError, MissingExtraError

LLD_DIM = 25
FUNCTIONALS_DIM = 88
FRAME_RATE = 100

#: Functionals that say how a voice sounds: name -> eGeMAPSv02 functional column.
PROSODY_FUNCTIONALS = {
    "pitch_semitones_mean": "F0semitoneFrom27.5Hz_sma3nz_amean",
    "pitch_variation": "F0semitoneFrom27.5Hz_sma3nz_stddevNorm",
    "pitch_range_semitones": "F0semitoneFrom27.5Hz_sma3nz_pctlrange0-2",
    "loudness_mean": "loudness_sma3_amean",
    "loudness_variation": "loudness_sma3_stddevNorm",
    "loudness_peaks_per_second": "loudnessPeaksPerSec",
    "voiced_segments_per_second": "VoicedSegmentsPerSec",
    "mean_voiced_segment_seconds": "MeanVoicedSegmentLengthSec",
    "mean_pause_seconds": "MeanUnvoicedSegmentLength",
    "jitter": "jitterLocal_sma3nz_amean",
    "shimmer_db": "shimmerLocaldB_sma3nz_amean",
    "harmonics_to_noise_db": "HNRdBACF_sma3nz_amean",
}


@dataclass(frozen=True)
class LowLevelDescriptors:
    """eGeMAPS descriptors of one signal: ``values`` ``[t, 25]`` float32, ``starts`` ``[t]`` seconds."""

    values: np.ndarray
    starts: np.ndarray
    names: tuple[str, ...]


def _import_opensmile() -> Any:
    try:
        import opensmile
    except ImportError as err:
        raise MissingExtraError("the eGeMAPS encoder", "media", "opensmile") from err
    return opensmile


class EgemapsEncoder:
    """openSMILE eGeMAPSv02: 25 low-level descriptors at ~100/s and 88 functionals, from a mono signal."""

    name = "egemaps"
    dim = LLD_DIM
    functionals_dim = FUNCTIONALS_DIM
    frame_rate = FRAME_RATE

    def __init__(self) -> None:
        opensmile = _import_opensmile()
        feature_set = opensmile.FeatureSet.eGeMAPSv02
        self._lld = opensmile.Smile(feature_set=feature_set, feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
        self._functionals = opensmile.Smile(feature_set=feature_set, feature_level=opensmile.FeatureLevel.Functionals)
        self.lld_names: tuple[str, ...] = tuple(self._lld.feature_names)
        self.functional_names: tuple[str, ...] = tuple(self._functionals.feature_names)

    def recipe(self) -> dict[str, Any]:
        """What makes these features: encoder, library version, feature set."""
        return {"encoder": self.name, "opensmile": metadata.version("opensmile"), "feature_set": "eGeMAPSv02",
                "lld_dim": LLD_DIM, "functionals_dim": FUNCTIONALS_DIM, "frame_rate": FRAME_RATE}

    @staticmethod
    def _process(smile: Any, signal: np.ndarray, sample_rate: int) -> Any:
        """openSMILE on a signal; its 'segment too short' warning becomes the all-NaN check of the callers."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Segment too short")
            return smile.process_signal(signal, sample_rate)

    def low_level(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, name: str = "signal") -> LowLevelDescriptors:
        """The 25 low-level descriptors over time."""
        signal = check_signal(samples, sample_rate, name)
        frame = self._process(self._lld, signal, sample_rate)
        if len(frame) == 0 or frame.isna().to_numpy().all():
            raise MediaError(f"{name}: {len(signal) / sample_rate:.3f} s is too short for eGeMAPS descriptors")
        starts = frame.index.get_level_values("start").total_seconds().to_numpy(dtype=np.float64)
        values = frame.to_numpy(dtype=np.float32)
        return LowLevelDescriptors(values=np.nan_to_num(values), starts=starts, names=tuple(frame.columns))

    def functionals(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, name: str = "signal") -> np.ndarray:
        """The 88 functionals of the whole signal, float32 ``[88]`` in :attr:`functional_names` order."""
        signal = check_signal(samples, sample_rate, name)
        frame = self._process(self._functionals, signal, sample_rate)
        if len(frame) == 0 or frame.isna().to_numpy().all():
            raise MediaError(f"{name}: {len(signal) / sample_rate:.3f} s is too short for eGeMAPS functionals")
        return np.nan_to_num(frame.to_numpy(dtype=np.float32)[0])

    def prosody(self, functionals: np.ndarray) -> dict[str, float]:
        """Named prosody values (:data:`PROSODY_FUNCTIONALS`) from a functionals vector."""
        return prosody(functionals, self.functional_names)


def prosody(functionals: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    """Pick :data:`PROSODY_FUNCTIONALS` out of an 88-d functionals vector whose columns are ``names``."""
    values = np.asarray(functionals).reshape(-1)
    if len(values) != len(names):
        raise MediaError(f"eGeMAPS functionals: {len(values)} values for {len(names)} names")
    index = {column: i for i, column in enumerate(names)}
    return {key: float(values[index[column]]) for key, column in PROSODY_FUNCTIONALS.items() if column in index}
