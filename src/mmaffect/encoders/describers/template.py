"""The ``template`` describer: every modality described in words from real encoders, no VLM.

Two steps per sample, both deterministic:

1. :meth:`TemplateDescriber.measure` runs the encoders on the sample's media and keeps a small JSON
   record (the job caches it, so text can be re-rendered without re-running the encoders):

   - **image** (:func:`~mmaffect.encoders.image.load_image`): the ``top_labels`` ImageNet classes of
     EfficientNet-Lite0 with their softmax probabilities; the text RapidOCR reads (``ocr=True``); the
     faces found by the Haar cascade (at most ``max_faces``, largest first), each with its 7 FER2013
     expression probabilities. ``faces="auto"`` treats a small image (longer side ≤ 128 px) without a
     detected face as a face crop (CK+48, FER2013), ``"whole"`` always does, ``"detect"`` never does;
   - **face video**: the FER2013 probabilities of the largest face in frames sampled at ``fps``;
   - **speech** (an ``audio`` column, or the audio track of a video): the eGeMAPSv02 prosody functionals
     (:data:`~mmaffect.encoders.egemaps.PROSODY_FUNCTIONALS`), the duration, and the transcript:
     Whisper-base (``transcript="whisper"``, greedy decoding), or a text field of the dataset
     (``transcript="<field>"``, e.g. a manifest's ``text`` read as ``raw_text``), or none (``"none"``).

   A file that cannot be read is recorded under ``failures`` (the job counts them); the other media of
   the sample are still described.
2. :func:`~mmaffect.encoders.describers.phrasing.render` writes the four fields ``ocr`` (the text written
   in the image and the words spoken), ``visual_scene``, ``cross_modal`` and ``reasoning``. Prosody is
   said in words relative to the train split's terciles (:mod:`~mmaffect.encoders.describers.prosody`):
   :meth:`fit` computes them from the train split's measurements, or ``thresholds`` (a mapping or a JSON
   file) fixes them; either way they are part of :meth:`fingerprint`, so a cache written with other
   thresholds is refused.

RapidOCR keeps the spaces between words of rendered text; on stylised meme fonts it may join words
(its recogniser emits no space when the gap is narrow). No fix is attempted here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from mmaffect.encoders.describers.base import Describer
from mmaffect.encoders.describers.phrasing import PHRASING_VERSION, render
from mmaffect.encoders.describers.prosody import check_thresholds, fit_thresholds
from mmaffect.errors import ConfigError, DataFileNotFoundError, MediaError

FACE_MODES = ("auto", "detect", "whole")
SMALL_IMAGE_SIDE = 128
FAILURES = (MediaError, DataFileNotFoundError)
MEASURE_VERSION = 1


def _round(values: Sequence[float], digits: int = 4) -> list[float]:
    return [round(float(v), digits) for v in values]


class TemplateDescriber(Describer):
    """Encoders' outputs in template sentences (see the module docs). Inputs: one mapping per sample with
    the media paths present (``image``, ``audio``, ``video``; None or absent when missing) and, with
    ``transcript=<field>``, that field's text under ``transcript``."""

    needs = "media"
    reads_post_text = True

    def __init__(self, *, top_labels: int = 3, ocr: bool = True, faces: str = "auto", max_faces: int = 3,
                 transcript: str = "whisper", fps: float = 5.0, max_seconds: float = 60.0,
                 thresholds: str | Mapping[str, Any] | None = None, threads: int = 1, chunk_size: int = 16,
                 min_run: int = 2) -> None:
        if faces not in FACE_MODES:
            raise ConfigError(f"template describer: faces={faces!r}, expected one of {', '.join(FACE_MODES)}")
        if not 1 <= top_labels <= 10 or max_faces < 1 or fps <= 0 or max_seconds <= 0 or min_run < 1:
            raise ConfigError("template describer: top_labels in 1…10, max_faces ≥ 1, fps > 0, max_seconds > 0, "
                              "min_run ≥ 1")
        self.top_labels, self.ocr, self.faces, self.max_faces = top_labels, bool(ocr), faces, max_faces
        self.transcript, self.fps, self.max_seconds, self.threads = transcript, fps, max_seconds, threads
        self.chunk_size, self.min_run = chunk_size, min_run
        self.fixed_thresholds = thresholds is not None
        self.thresholds: dict[str, list[float]] = self._read_thresholds(thresholds) if thresholds is not None else {}
        self._encoders: dict[str, Any] = {}

    # -- settings ---------------------------------------------------------------------------------
    @staticmethod
    def _read_thresholds(thresholds: str | Mapping[str, Any]) -> dict[str, list[float]]:
        if isinstance(thresholds, Mapping):
            return check_thresholds(thresholds)
        path = Path(thresholds)
        if not path.is_file():
            raise DataFileNotFoundError(f"prosody thresholds file {path} not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
        if isinstance(data, Mapping) and "thresholds" in data:  # a cache's .meta.json
            data = data["thresholds"]
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected an object {{cue: [low_upper, high_lower]}}")
        return check_thresholds(data)

    def measure_settings(self) -> dict[str, Any]:
        """What changes the measurements (the job's measurement cache is checked against it)."""
        return {"describer": "template-measures", "version": MEASURE_VERSION, "top_labels": self.top_labels,
                "ocr": self.ocr, "faces": self.faces, "max_faces": self.max_faces, "transcript": self.transcript,
                "fps": self.fps, "max_seconds": self.max_seconds}

    def fingerprint(self) -> dict[str, Any]:
        return {**self.measure_settings(), "describer": "template", "phrasing": PHRASING_VERSION,
                "min_run": self.min_run, "thresholds": self.thresholds}

    def fit(self, measures: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
        """Prosody terciles from the train split's measurements (kept when thresholds were given)."""
        if not self.fixed_thresholds:
            self.thresholds = fit_thresholds((m["audio"]["prosody"] for m in measures
                                              if m.get("audio") and m["audio"].get("prosody")))
        return self.thresholds

    # -- encoders (loaded on first use) -------------------------------------------------------------
    def _encoder(self, name: str) -> Any:
        if name not in self._encoders:
            if name == "efficientnet":
                from mmaffect.encoders.efficientnet import EfficientNetLite0Encoder
                self._encoders[name] = EfficientNetLite0Encoder(top_k=self.top_labels, batch_size=1)
            elif name == "ocr":
                from mmaffect.encoders.ocr import OcrReader
                self._encoders[name] = OcrReader(threads=self.threads)
            elif name == "face":
                from mmaffect.encoders.face import FaceEncoder
                self._encoders[name] = FaceEncoder()
            elif name == "egemaps":
                from mmaffect.encoders.egemaps import EgemapsEncoder
                self._encoders[name] = EgemapsEncoder()
            elif name == "whisper":
                from mmaffect.encoders.whisper import WhisperEncoder
                self._encoders[name] = WhisperEncoder(beam_size=1, threads=self.threads)
        return self._encoders[name]

    @property
    def classes(self) -> tuple[str, ...]:
        from mmaffect.encoders.fer_net import FER_CLASSES
        return FER_CLASSES

    # -- measurements -------------------------------------------------------------------------------
    def measure_image(self, path: Any) -> dict[str, Any]:
        from mmaffect.encoders.image import load_image

        image = load_image(path)
        encoding = self._encoder("efficientnet").encode([image])
        out: dict[str, Any] = {"labels": [[s.label, round(s.probability, 4)] for s in encoding.top_labels[0]],
                               "size": [image.width, image.height]}
        if self.ocr:
            out["ocr"] = self._encoder("ocr").read(image).text
        face = self._encoder("face")
        grey = np.asarray(image.convert("L"))
        boxes: list[tuple[int, int, int, int]] = []
        if self.faces != "whole":
            found = face.detector.detectMultiScale(grey, scaleFactor=face.scale_factor, minNeighbors=face.min_neighbors,
                                                   minSize=(face.min_face_size, face.min_face_size))
            boxes = sorted((tuple(int(v) for v in b) for b in found), key=lambda b: (-b[2] * b[3], b[0], b[1]))
        whole = self.faces == "whole" or (self.faces == "auto" and not boxes
                                          and max(image.width, image.height) <= SMALL_IMAGE_SIDE)
        if whole:
            features = face.encode_images([grey], detect=False)
            out["faces"] = [{"box": [0, 0, image.width, image.height],
                             "probabilities": _round(features.probabilities[0])}]
        else:
            crops = [face.crop(grey, b) for b in boxes[:self.max_faces]]
            probabilities = face.encode_faces(np.stack(crops))[0] if crops else []
            out["faces"] = [{"box": list(b), "probabilities": _round(p)} for b, p in zip(boxes, probabilities)]
        out["whole_face"] = whole
        return out

    def measure_video(self, path: Any) -> dict[str, Any]:
        features = self._encoder("face").encode_video(path, fps=self.fps, max_seconds=self.max_seconds, truncate=True)
        times = features.times if features.times is not None else np.arange(len(features.mask)) / self.fps
        return {"times": _round(times, 3), "duration": round(float(times[-1]) + 1 / self.fps, 3) if len(times) else 0.0,
                "probabilities": [_round(p) if m else None for p, m in zip(features.probabilities, features.mask)]}

    def measure_speech(self, path: Any, transcript: str | None) -> dict[str, Any]:
        from mmaffect.encoders.audio import load_audio

        audio = load_audio(path, max_seconds=self.max_seconds, truncate=True)
        egemaps = self._encoder("egemaps")
        prosody = egemaps.prosody(egemaps.functionals(audio.samples, audio.sample_rate, name=str(path)))
        if self.transcript == "whisper":
            transcript = self._encoder("whisper").transcribe(audio.samples, audio.sample_rate).text
        elif self.transcript == "none":
            transcript = ""
        return {"transcript": str(transcript or "").strip(), "duration": round(audio.duration, 3),
                "prosody": {k: round(v, 5) for k, v in prosody.items()}}

    def measure(self, media: Mapping[str, Any]) -> dict[str, Any]:
        """The measurements of one sample (see the module docs); per-file failures under ``failures``."""
        out: dict[str, Any] = {}
        failures: dict[str, str] = {}
        steps = []
        if media.get("image"):
            steps.append(("image", lambda: self.measure_image(media["image"])))
        if media.get("video"):
            steps.append(("video", lambda: self.measure_video(media["video"])))
        speech = media.get("audio") or media.get("video")
        if speech:
            steps.append(("audio", lambda: self.measure_speech(speech, media.get("transcript"))))
        for name, step in steps:
            try:
                out[name] = step()
            except FAILURES as err:
                if name == "audio" and not media.get("audio") and "no audio track" in str(err):
                    continue  # a silent video: nothing to say about speech
                failures[name] = f"{type(err).__name__}: {err}"
        if failures:
            out["failures"] = failures
        return out

    # -- descriptions -------------------------------------------------------------------------------
    def describe(self, ids: Sequence[str], inputs: Sequence[Any],
                 post_texts: Sequence[str | None] | None = None) -> list[dict[str, str]]:
        """The four fields per sample; an input holding ``{"measures": ...}`` is rendered without re-measuring."""
        post_texts = list(post_texts) if post_texts is not None else [None] * len(inputs)
        out = []
        for media, text in zip(inputs, post_texts):
            measures = media["measures"] if isinstance(media, Mapping) and "measures" in media else self.measure(media)
            out.append(render(measures, self.thresholds, self.classes, text, min_run=self.min_run))
        return out
