"""Small media files written by the tests (never committed): WAV by the standard library, MP4 by PyAV."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Callable

import numpy as np


def tone(seconds: float, rate: int = 16_000, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    """A sine wave, float32 in [-amplitude, amplitude]."""
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    """16-bit PCM WAV; ``samples`` [n] (mono) or [n, channels] in [-1, 1]."""
    data = np.asarray(samples, dtype=np.float32)
    channels = 1 if data.ndim == 1 else data.shape[1]
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(data, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def write_video(path: Path, frames: int, fps: int = 25, size: tuple[int, int] = (160, 120),
                draw: Callable[[int], np.ndarray] | None = None, audio: np.ndarray | None = None,
                audio_rate: int = 16_000) -> Path:
    """An MPEG-4 video of ``frames`` grey frames (``draw(i)`` -> uint8 [h, w], default a moving gradient),
    with an AAC audio track when ``audio`` is given."""
    import av

    width, height = size
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=audio_rate) if audio is not None else None
        if sound is not None:
            sound.layout = "mono"
        for i in range(frames):
            grey = draw(i) if draw is not None else np.tile(((np.arange(width) + 4 * i) % 256).astype(np.uint8),
                                                            (height, 1))
            rgb = np.repeat(grey[:, :, None], 3, axis=2)
            for packet in video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            chunk = 1024
            for start in range(0, len(audio), chunk):
                piece = audio[start:start + chunk].astype(np.float32)[None, :]
                frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="mono")
                frame.sample_rate = audio_rate
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path
