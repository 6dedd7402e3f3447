"""Prosody in words: eGeMAPS functionals -> "low / average / high" relative to dataset terciles.

A voice is described by a few eGeMAPSv02 functionals (Eyben et al. 2016, IEEE Trans. Affective
Computing 7(2); picked by :data:`mmaffect.encoders.egemaps.PROSODY_FUNCTIONALS`). Absolute values mean
little to a reader (a "loudness of 0.06" is neither loud nor soft), so each value ``v`` of a cue is
compared with the terciles ``q₁ = Q(1/3)``, ``q₂ = Q(2/3)`` of that cue over the **train split**
(:func:`fit_thresholds`, linear-interpolation quantiles, ``numpy.quantile``):

    word(v) = "low"  if v < q₁,   "high" if v > q₂,   "average" otherwise.

The thresholds are computed once on the train split and recorded with the describer's settings, so
valid, test and later predictions use the same words for the same values (no leakage of the evaluation
splits into the description).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

from mmaffect.errors import ConfigError

#: cue -> (eGeMAPS prosody key, the words for low / average / high, the phrase naming the cue)
CUES: dict[str, tuple[str, tuple[str, str, str], str]] = {
    "pitch": ("pitch_semitones_mean", ("low-pitched", "mid-pitched", "high-pitched"), "pitch level"),
    "pitch_variability": ("pitch_variation", ("monotone", "moderately varied", "strongly varied"),
                          "pitch variability"),
    "loudness": ("loudness_mean", ("soft", "moderately loud", "loud"), "loudness"),
    "loudness_variability": ("loudness_variation", ("even", "moderately varied", "strongly varied"),
                             "loudness variability"),
    "rate": ("voiced_segments_per_second", ("slow", "average-paced", "fast"), "speaking rate"),
    "pauses": ("mean_pause_seconds", ("short", "medium", "long"), "pauses"),
    "jitter": ("jitter", ("low", "average", "high"), "jitter"),
    "shimmer": ("shimmer_db", ("low", "average", "high"), "shimmer"),
    "harmonics_to_noise": ("harmonics_to_noise_db", ("low", "average", "high"), "harmonics-to-noise ratio"),
}
LEVELS = ("low", "average", "high")


def fit_thresholds(values: Iterable[Mapping[str, float]], *, min_samples: int = 3) -> dict[str, list[float]]:
    """``{cue: [q₁, q₂]}``: the terciles of every cue over ``values`` (the train split's prosody dicts).

    Non-finite values are ignored; a cue with fewer than ``min_samples`` finite values gets no thresholds
    (and is then not described).
    """
    out: dict[str, list[float]] = {}
    rows = list(values)
    for cue, (key, _, _) in CUES.items():
        column = np.array([float(r[key]) for r in rows if key in r and r[key] is not None
                           and math.isfinite(float(r[key]))], dtype=np.float64)
        if len(column) >= min_samples:
            out[cue] = [float(v) for v in np.quantile(column, [1 / 3, 2 / 3])]
    return out


def check_thresholds(thresholds: Mapping[str, object]) -> dict[str, list[float]]:
    """Thresholds as given by a user (e.g. a JSON file): known cues, two finite increasing numbers each."""
    out: dict[str, list[float]] = {}
    for cue, pair in thresholds.items():
        if cue not in CUES:
            raise ConfigError(f"prosody thresholds: unknown cue {cue!r} (known: {', '.join(CUES)})")
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ConfigError(f"prosody thresholds[{cue!r}]: expected [low_upper, high_lower], got {pair!r}")
        low, high = (float(v) for v in pair)
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ConfigError(f"prosody thresholds[{cue!r}]: expected two finite numbers in order, got {pair!r}")
        out[cue] = [low, high]
    return out


def level(value: float, pair: Sequence[float]) -> int:
    """0 (low), 1 (average) or 2 (high): ``value`` against the terciles ``pair = (q₁, q₂)``."""
    if value < pair[0]:
        return 0
    if value > pair[1]:
        return 2
    return 1



def prosody_levels(prosody: Mapping[str, float], thresholds: Mapping[str, Sequence[float]]) -> dict[str, int]:
    """``{cue: level}`` for every cue that has thresholds and a finite value."""
    out: dict[str, int] = {}
    for cue, pair in thresholds.items():
        key = CUES[cue][0]
        value = prosody.get(key)
        if value is not None and math.isfinite(float(value)):
            out[cue] = level(float(value), pair)
    return out


def prosody_words(levels: Mapping[str, int]) -> str:
    """One sentence: "The voice is high-pitched, strongly varied in pitch, loud, fast; ..."."""
    if not levels:
        return ""
    parts = []
    main = [c for c in ("pitch", "loudness", "rate") if c in levels]
    if main:
        parts.append("The voice is " + ", ".join(CUES[c][1][levels[c]] for c in main)
                     + " (relative to this dataset)")
    details = []
    for cue in ("pitch_variability", "loudness_variability", "pauses"):
        if cue in levels:
            details.append(f"{CUES[cue][2]} {LEVELS[levels[cue]]} ({CUES[cue][1][levels[cue]]})")
    if details:
        parts.append("; ".join(details))
    quality = [f"{CUES[c][2]} {LEVELS[levels[c]]}" for c in ("jitter", "shimmer", "harmonics_to_noise") if c in levels]
    if quality:
        parts.append("voice quality: " + ", ".join(quality))
    return "; ".join(parts) + "."


def arousal(levels: Mapping[str, int]) -> int | None:
    """A coarse vocal arousal level (0 calm, 1 moderate, 2 aroused): the rounded mean level of pitch,
    pitch variability, loudness and rate (the cues that rise with arousal; Scherer 2003, Speech
    Communication 40). None without any of these cues."""
    cues = [levels[c] for c in ("pitch", "pitch_variability", "loudness", "rate") if c in levels]
    if not cues:
        return None
    return int(round(sum(cues) / len(cues)))
