"""Media encoders as the dataset jobs and raw-file prediction run them: one file in, one ``[t, d]`` sequence out.

:class:`MediaEncoding` wraps one encoder of the library with the job's parameters (:class:`MediaSettings`):

==========================  ============  ==============================================================
encoder                     input column  output per file
==========================  ============  ==============================================================
``whisper``                 audio, video  Whisper-base encoder frames ``[⌈50·s⌉, 512]`` + the transcript
``egemaps``                 audio, video  eGeMAPSv02 descriptors ``[~100·s / stride, 25]`` (``stride`` rows
                                          mean-pooled: 1 → 100/s, 2 → 50/s)
``egemaps-functionals``     audio, video  the 88 functionals ``[1, 88]``
``face``                    video         per frame sampled at ``fps``: 7 FER2013 probabilities, 128-d
                                          features and a "face found" channel (1/0) ``[n, 136]``
``face``                    image         one step ``[1, 136]``
``efficientnet-lite0``      image         tokens ``[49, 1280]`` (``pooling="mean"``: ``[1, 1280]``)
==========================  ============  ==============================================================

:meth:`MediaEncoding.decode` (PyAV / PIL; thread-safe, run in a pool) and :meth:`MediaEncoding.encode`
(the network, one thread) are separate so that decoding runs in parallel while the encoder runs.
Every problem of one file is a :class:`~mmaffect.errors.MediaError` (or ``DataFileNotFoundError``);
:func:`failure_kind` names its category (undecodable, no audio track, zero length, too long, no face,
missing file, too short). :meth:`MediaEncoding.recipe` is the encoder's recipe plus these parameters.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmaffect.errors import ConfigError, DataFileNotFoundError, MediaError

MEDIA_ENCODERS = ("whisper", "egemaps", "egemaps-functionals", "face", "efficientnet-lite0")
INPUTS = {"whisper": ("audio", "video"), "egemaps": ("audio", "video"), "egemaps-functionals": ("audio", "video"),
          "face": ("video", "image"), "efficientnet-lite0": ("image",)}
DEFAULT_NAMES = {"whisper": "audio_whisper", "egemaps": "audio_egemaps",
                 "egemaps-functionals": "audio_egemaps_functionals", "face": "{column}_face",
                 "efficientnet-lite0": "image_efficientnet"}
FACE_DIM = 7 + 128 + 1

_KINDS = (("no media path", r"path for this sample"), ("missing file", r"no such (media )?file|not found"), ("too long", r"above the limit"),
          ("no audio track", r"no audio track"), ("no video track", r"no video track"),
          ("no face", r"no face"), ("zero length", r"zero length|empty"), ("too short", r"too short"),
          ("undecodable", r"cannot be decoded|not an image|truncated|cannot identify"))


def failure_kind(error: BaseException) -> str:
    """The category of a per-file failure, from its message (``other`` when none matches)."""
    text = str(error)
    if isinstance(error, DataFileNotFoundError):
        return "missing file"
    return next((kind for kind, pattern in _KINDS if re.search(pattern, text, re.IGNORECASE)), "other")


@dataclass(frozen=True)
class MediaSettings:
    """The parameters of a media extraction that change its output (all recorded in the recipe)."""

    encoder: str
    column: str
    window: str = "clip"
    max_seconds: float = 30.0
    truncate: bool = False
    stride: int = 1
    fps: float = 5.0
    detect: bool = True
    pooling: str = "tokens"
    transcribe: bool = True

    def __post_init__(self) -> None:
        if self.encoder not in MEDIA_ENCODERS:
            raise ConfigError(f"media encoder {self.encoder!r}: expected one of {', '.join(MEDIA_ENCODERS)}")
        if self.column not in INPUTS[self.encoder]:
            raise ConfigError(f"encoder {self.encoder!r} reads a {' or '.join(INPUTS[self.encoder])} column, "
                              f"not {self.column!r}")
        if self.max_seconds <= 0 or self.stride < 1 or self.fps <= 0:
            raise ConfigError(f"max_seconds, stride and fps must be positive (got {self.max_seconds}, "
                              f"{self.stride}, {self.fps})")
        if self.pooling not in ("tokens", "mean"):
            raise ConfigError(f"pooling {self.pooling!r}: expected 'tokens' or 'mean'")

    def params(self) -> dict[str, Any]:
        """The parameters that matter for this encoder (what the recipe records)."""
        keep = {"whisper": ("window", "max_seconds", "truncate", "transcribe"),
                "egemaps": ("max_seconds", "truncate", "stride"),
                "egemaps-functionals": ("max_seconds", "truncate"),
                "face": ("max_seconds", "truncate", "fps", "detect") if self.column == "video" else ("detect",),
                "efficientnet-lite0": ("pooling",)}[self.encoder]
        values = asdict(self)
        return {"column": self.column, **{k: values[k] for k in keep}}

    @classmethod
    def from_recipe(cls, recipe: dict[str, Any]) -> "MediaSettings":
        """The settings a stored recipe was made with."""
        job = recipe.get("job") or {}
        fields = set(cls.__dataclass_fields__) - {"encoder"}
        return cls(encoder=recipe.get("encoder_name", recipe.get("encoder")),
                   **{k: v for k, v in job.items() if k in fields})


@dataclass
class Encoded:
    """One file's sequence ``[t, d]`` float32 and, for Whisper, its transcript."""

    features: np.ndarray
    transcript: str | None = None


class MediaEncoding:
    """An encoder of the library built from :class:`MediaSettings`: ``decode`` then ``encode`` one file."""

    def __init__(self, settings: MediaSettings, *, threads: int = 1) -> None:
        self.settings = s = settings
        if s.encoder == "whisper":
            from mmaffect.encoders.whisper import WhisperEncoder

            self.encoder: Any = WhisperEncoder(window=s.window, threads=threads)
            self.dim, self.rate = self.encoder.dim, 50.0
        elif s.encoder in ("egemaps", "egemaps-functionals"):
            from mmaffect.encoders.egemaps import EgemapsEncoder

            self.encoder = EgemapsEncoder()
            functionals = s.encoder == "egemaps-functionals"
            self.dim = self.encoder.functionals_dim if functionals else self.encoder.dim
            self.rate = 0.0 if functionals else 100.0 / s.stride
        elif s.encoder == "face":
            from mmaffect.encoders.face import FaceEncoder

            self.encoder = FaceEncoder()
            self.dim, self.rate = FACE_DIM, (s.fps if s.column == "video" else 0.0)
        else:
            from mmaffect.encoders.efficientnet import EfficientNetLite0Encoder

            self.encoder = EfficientNetLite0Encoder()
            self.dim, self.rate = self.encoder.dim, 0.0

    def recipe(self) -> dict[str, Any]:
        """The encoder's recipe, the job's parameters under ``job``, and the encoder name as asked."""
        return {**self.encoder.recipe(), "encoder_name": self.settings.encoder, "job": self.settings.params()}

    def fixed_steps(self) -> int | None:
        """Steps of every output when they do not depend on the file's duration."""
        s = self.settings
        if s.encoder == "efficientnet-lite0":
            return 1 if s.pooling == "mean" else 49
        if s.encoder == "egemaps-functionals" or (s.encoder == "face" and s.column == "image"):
            return 1
        return None

    def steps_for(self, seconds: float) -> int:
        """Steps of a file lasting ``seconds`` (at most ``max_seconds``), for sizing the stored array."""
        fixed = self.fixed_steps()
        if fixed is not None:
            return fixed
        return math.ceil(min(seconds, self.settings.max_seconds) * self.rate) + 1

    def duration(self, path: str | Path) -> float:
        """The duration a file declares (``max_seconds`` when it declares none); errors as ``decode``."""
        from mmaffect.encoders.audio import open_container, stream_duration

        with open_container(path) as container:
            streams = container.streams.video if self.settings.encoder == "face" else container.streams.audio
            declared = stream_duration(container, streams[0]) if streams else None
        return self.settings.max_seconds if declared is None else float(declared)

    def decode(self, path: str | Path) -> Any:
        """The decoded input of one file (signal, grey frames or image); thread-safe."""
        s = self.settings
        if s.column == "image":
            from mmaffect.encoders.image import load_image

            return load_image(path)
        if s.encoder == "face":
            from mmaffect.encoders.video import load_video_frames

            return load_video_frames(path, fps=s.fps, max_seconds=s.max_seconds, truncate=s.truncate)
        from mmaffect.encoders.audio import load_audio

        return load_audio(path, max_seconds=s.max_seconds, truncate=s.truncate)

    def encode(self, decoded: Any, name: str = "file") -> Encoded:
        """The ``[t, d]`` sequence of one decoded file; a file without any face is a MediaError."""
        s = self.settings
        if s.encoder == "whisper":
            frames = self.encoder.encode(decoded.samples)
            text = self.encoder.transcribe(decoded.samples).text if s.transcribe else None
            return Encoded(frames.astype(np.float32), text)
        if s.encoder == "egemaps":
            values = self.encoder.low_level(decoded.samples, name=name).values
            if s.stride > 1:  # mean of non-overlapping windows of `stride` rows (the last one may be shorter)
                values = np.stack([values[i:i + s.stride].mean(0) for i in range(0, len(values), s.stride)])
            return Encoded(values.astype(np.float32))
        if s.encoder == "egemaps-functionals":
            return Encoded(self.encoder.functionals(decoded.samples, name=name)[None].astype(np.float32))
        if s.encoder == "face":
            if s.column == "image":
                faces = self.encoder.encode_images([np.asarray(decoded.convert("L"))], detect=s.detect)
            else:
                faces = self.encoder.encode_frames(decoded.frames, detect=s.detect, times=decoded.times)
            if not faces.any_face:
                where = "the image" if s.column == "image" else f"any of its {len(faces.mask)} frames"
                raise MediaError(f"{name}: no face in {where}")
            return Encoded(np.concatenate([faces.probabilities, faces.features,
                                           faces.mask[:, None].astype(np.float32)], axis=1).astype(np.float32))
        encoding = self.encoder.encode([decoded])
        tokens = encoding.pooled[:, None] if s.pooling == "mean" else encoding.tokens
        return Encoded(tokens[0].astype(np.float32))

    def encode_file(self, path: str | Path) -> Encoded:
        """``encode(decode(path))``."""
        return self.encode(self.decode(path), str(path))
