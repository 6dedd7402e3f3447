"""Video decoding for the face encoder: grey frames at a chosen rate, bounded in count and size (PyAV).

:func:`load_video_frames` streams the first video track, keeps one frame per ``1 / fps`` seconds of
presentation time (the first frame at or after each sampling instant), converts it to 8-bit grey and
shrinks it so that its longer side is at most ``max_side`` pixels. Memory is bounded by
``ceil(max_seconds · fps)`` frames of at most ``max_side²`` bytes. The audio track of a video goes
through :func:`mmaffect.encoders.audio.load_audio` (re-exported here as :func:`load_video_audio`).

Errors are :class:`~mmaffect.errors.MediaError` naming the file: not decodable, no video track, no
frame, longer than ``max_seconds`` (unless ``truncate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmaffect.encoders.audio import DEFAULT_MAX_SECONDS, import_av, load_audio, open_container, stream_duration, too_long
from mmaffect.errors import MediaError

DEFAULT_FPS = 5.0
DEFAULT_MAX_SIDE = 640

load_video_audio = load_audio


@dataclass(frozen=True)
class VideoFrames:
    """Grey frames ``[n, h, w]`` uint8 sampled at ``fps``, with their presentation times (seconds)."""

    frames: np.ndarray
    times: np.ndarray
    fps: float
    source: str
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.frames)


def _scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) shrunk to a longer side of at most ``max_side`` (aspect kept, even numbers ≥ 2)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def load_video_frames(path: str | Path, *, fps: float = DEFAULT_FPS, max_side: int = DEFAULT_MAX_SIDE,
                      max_seconds: float = DEFAULT_MAX_SECONDS, truncate: bool = False) -> VideoFrames:
    """Decode ``path``'s first video track to grey frames sampled at ``fps`` frames per second.

    A video longer than ``max_seconds`` raises :class:`MediaError` with its duration, unless ``truncate``
    keeps its first ``max_seconds``.
    """
    if fps <= 0 or max_side < 2 or max_seconds <= 0:
        raise MediaError(f"{path}: fps, max_side and max_seconds must be positive (got {fps}, {max_side}, "
                         f"{max_seconds})")
    av = import_av()
    frames: list[np.ndarray] = []
    times: list[float] = []
    truncated = False
    with open_container(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path}: no video track")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        declared = stream_duration(container, stream)
        if declared is not None and declared > max_seconds + 1.0 and not truncate:
            raise too_long(path, declared, max_seconds)
        next_time = 0.0
        size: tuple[int, int] | None = None
        try:
            for frame in container.decode(stream):
                time = float(frame.time) if frame.time is not None else len(times) / fps
                if time > max_seconds:
                    if not truncate:
                        raise too_long(path, declared if declared and declared > max_seconds else None, max_seconds)
                    truncated = True
                    break
                if time + 1e-6 < next_time:
                    continue
                if size is None:
                    size = _scaled_size(frame.width, frame.height, max_side)
                grey = frame.reformat(width=size[0], height=size[1], format="gray")
                frames.append(grey.to_ndarray().copy())
                times.append(time)
                next_time = (int(time * fps + 1e-6) + 1) / fps
        except (av.FFmpegError, OSError, ValueError) as err:
            if isinstance(err, MediaError):
                raise
            raise MediaError(f"{path}: video track cannot be decoded ({type(err).__name__}: {err})") from None
    if not frames:
        raise MediaError(f"{path}: the video track has no frames (zero length)")
    return VideoFrames(frames=np.stack(frames), times=np.asarray(times, dtype=np.float64), fps=fps,
                       source=str(path), truncated=truncated)
