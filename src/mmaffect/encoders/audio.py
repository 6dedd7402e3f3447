"""Audio decoding for the speech encoders: any audio file, or the audio track of a video, to mono 16 kHz.

Decoding is PyAV's (FFmpeg): every container and codec FFmpeg reads, resampled by FFmpeg's resampler
(``av.AudioResampler``) to float32 at :data:`SAMPLE_RATE`, channels averaged to mono. Frames are streamed and decoding stops at
the duration limit, so memory stays bounded by ``max_seconds`` of 16 kHz float32 (600 s = 38 MB).

Every failure is a :class:`~mmaffect.errors.MediaError` that names the file: not decodable, no audio
track, zero length, longer than the limit (with its duration; or cut at the limit when the caller asks
``truncate=True``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmaffect.errors import DataFileNotFoundError, MediaError, MissingExtraError

SAMPLE_RATE = 16_000
DEFAULT_MAX_SECONDS = 600.0


@dataclass(frozen=True)
class Audio:
    """A decoded mono signal: ``samples`` float32 ``[n]`` in [-1, 1] at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int
    source: str
    truncated: bool = False

    @property
    def duration(self) -> float:
        """Length in seconds, ``n / sample_rate``."""
        return len(self.samples) / self.sample_rate


def import_av() -> Any:
    """The ``av`` module, or :class:`MissingExtraError` naming the ``[media]`` extra."""
    try:
        import av
    except ImportError as err:
        raise MissingExtraError("audio and video decoding", "media", "av") from err
    return av


def open_container(path: str | Path) -> Any:
    """``av.open`` with the package's errors: missing file, or a file FFmpeg cannot read."""
    av = import_av()
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"{path}: no such media file")
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as err:
        raise MediaError(f"{path}: cannot be decoded as audio or video ({type(err).__name__}: {err})") from None


def stream_duration(container: Any, stream: Any) -> float | None:
    """The duration a container declares for ``stream`` (seconds), or None when it declares none."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base: microseconds
    return None


def too_long(path: str | Path, duration: float | None, max_seconds: float) -> MediaError:
    """The error for a file above the duration limit; ``duration`` None when the file declares none."""
    length = f"{duration:.1f} s long" if duration is not None else "longer"
    return MediaError(f"{path}: {length}, above the limit of {max_seconds:g} s "
                      f"(raise max_seconds, or truncate to keep the first {max_seconds:g} s)")


def load_audio(path: str | Path, *, sample_rate: int = SAMPLE_RATE, max_seconds: float = DEFAULT_MAX_SECONDS,
               truncate: bool = False) -> Audio:
    """Decode the first audio track of ``path`` (an audio file or a video) to mono float32 at ``sample_rate``.

    A signal longer than ``max_seconds`` raises :class:`MediaError` with its duration, unless
    ``truncate`` is set, in which case the first ``max_seconds`` are returned (``Audio.truncated``).
    """
    if max_seconds <= 0:
        raise MediaError(f"{path}: max_seconds must be positive, got {max_seconds}")
    av = import_av()
    max_samples = int(math.floor(max_seconds * sample_rate))
    with open_container(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path}: no audio track")
        stream = container.streams.audio[0]
        declared = stream_duration(container, stream)
        if declared is not None and declared > max_seconds + 1.0 and not truncate:
            raise too_long(path, declared, max_seconds)
        # Keep the channels through the resampler and average them here: FFmpeg's own downmix sums
        # stereo channels at -3 dB ((L + R) / sqrt 2), which changes the level and can clip.
        resampler = av.AudioResampler(format="fltp", rate=sample_rate)
        chunks: list[np.ndarray] = []
        count = 0
        truncated = False
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().mean(axis=0)
                    chunks.append(chunk)
                    count += len(chunk)
                if count > max_samples:
                    truncated = True
                    break
            if not truncated:
                for out in resampler.resample(None):
                    chunk = out.to_ndarray().mean(axis=0)
                    chunks.append(chunk)
                    count += len(chunk)
        except (av.FFmpegError, OSError, ValueError) as err:
            raise MediaError(f"{path}: audio track cannot be decoded ({type(err).__name__}: {err})") from None
    if count > max_samples:
        if not truncate:
            raise too_long(path, declared if declared is not None and declared > max_seconds else None, max_seconds)
        truncated = True
    if count == 0:
        raise MediaError(f"{path}: the audio track is empty (zero length)")
    samples = np.concatenate(chunks).astype(np.float32, copy=False)[:max_samples]
    if not np.isfinite(samples).all():
        raise MediaError(f"{path}: the decoded audio holds NaN or infinite values")
    return Audio(samples=np.ascontiguousarray(samples), sample_rate=sample_rate, source=str(path),
                 truncated=truncated)


def check_signal(samples: np.ndarray, sample_rate: int, name: str = "signal") -> np.ndarray:
    """Validate an in-memory mono signal (1-d, finite, non-empty) and return it as float32."""
    array = np.asarray(samples)
    if array.ndim != 1:
        raise MediaError(f"{name}: expected a mono signal of shape [n], got shape {array.shape}")
    if array.size == 0:
        raise MediaError(f"{name}: the signal is empty (zero length)")
    if sample_rate <= 0:
        raise MediaError(f"{name}: sample rate must be positive, got {sample_rate}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise MediaError(f"{name}: the signal holds NaN or infinite values")
    return array
