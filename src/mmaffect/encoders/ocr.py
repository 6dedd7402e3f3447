"""The text written in an image (memes, screenshots), read by RapidOCR.

RapidOCR (``rapidocr-onnxruntime``) runs the PP-OCRv4 pipeline (Li et al., arXiv 2206.03001: a DB text
detector, a text-direction classifier and an SVTR-LCNet CRNN recogniser with CTC decoding) as ONNX models
bundled in its wheel: nothing is downloaded at run time. Each detected text box comes back with its
recognised string and a confidence ``s ∈ [0, 1]`` (the mean of the per-character CTC maxima).

:class:`OcrReader` turns those boxes into text in **reading order**:

1. boxes with ``s < min_score`` are dropped (default 0.5, RapidOCR's own default);
2. the kept boxes, sorted by vertical centre, form lines greedily: a box joins the current line when its
   vertical extent overlaps the line's by at least half the smaller of the two heights, else it starts
   a new line;
3. within a line boxes are sorted left to right and joined with a space; lines are joined with ``\\n``.

There is no column detection: text in two side-by-side columns is read line by line across both. A
line's score is the mean of its boxes' scores weighted by their character counts. Images are read by
:func:`mmaffect.encoders.image.load_image` (size bound, clear per-file errors, any mode to RGB; alpha over
white) and given to RapidOCR as a BGR array.

Threads: ONNX Runtime has no global setting, so ``threads`` sets the sessions' intra-op and inter-op
thread counts (``None``: ONNX Runtime's default, one per physical core).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mmaffect.encoders.image import DEFAULT_MAX_PIXELS, ImageSource, load_image
from mmaffect.errors import ConfigError, EncoderError, MissingExtraError

DEFAULT_MIN_SCORE = 0.5


@dataclass(frozen=True)
class OcrBox:
    """One detected text box: its text, confidence and bounds ``(left, top, right, bottom)`` in pixels."""

    text: str
    score: float
    bounds: tuple[float, float, float, float]

    @property
    def height(self) -> float:
        return self.bounds[3] - self.bounds[1]

    @property
    def center_y(self) -> float:
        return (self.bounds[1] + self.bounds[3]) / 2


@dataclass(frozen=True)
class OcrLine:
    """One line of text: its boxes left to right, joined by a space, and their character-weighted mean score."""

    boxes: tuple[OcrBox, ...]

    @property
    def text(self) -> str:
        return " ".join(box.text for box in self.boxes)

    @property
    def score(self) -> float:
        weights = [max(len(box.text), 1) for box in self.boxes]
        return sum(w * box.score for w, box in zip(weights, self.boxes)) / sum(weights)


@dataclass(frozen=True)
class OcrResult:
    """The text read in one image: lines in reading order (empty when no text was found)."""

    lines: tuple[OcrLine, ...]

    @property
    def text(self) -> str:
        """The lines joined with ``\\n`` (``""`` when nothing was read)."""
        return "\n".join(line.text for line in self.lines)

    @property
    def score(self) -> float | None:
        """Character-weighted mean score over all boxes; ``None`` when nothing was read."""
        boxes = [box for line in self.lines for box in line.boxes]
        return OcrLine(tuple(boxes)).score if boxes else None


def group_lines(boxes: Sequence[OcrBox]) -> tuple[OcrLine, ...]:
    """Boxes into lines in reading order (the rule in the module docs)."""
    lines: list[list[OcrBox]] = []
    for box in sorted(boxes, key=lambda b: (b.center_y, b.bounds[0])):
        if lines:
            top = min(b.bounds[1] for b in lines[-1])
            bottom = max(b.bounds[3] for b in lines[-1])
            overlap = min(bottom, box.bounds[3]) - max(top, box.bounds[1])
            if overlap >= 0.5 * min(bottom - top, box.height):
                lines[-1].append(box)
                continue
        lines.append([box])
    return tuple(OcrLine(tuple(sorted(line, key=lambda b: b.bounds[0]))) for line in lines)


def _box_from_quad(quad: Any, text: str, score: float) -> OcrBox:
    points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    left, top = points.min(axis=0)
    right, bottom = points.max(axis=0)
    return OcrBox(text.strip(), float(score), (float(left), float(top), float(right), float(bottom)))


def _rapidocr_package() -> Any:
    try:
        import rapidocr_onnxruntime
    except ImportError as err:
        raise MissingExtraError("OCR (RapidOCR)", "image", err.name) from err
    return rapidocr_onnxruntime


class OcrReader:
    """Image → :class:`OcrResult` (text lines in reading order with scores) using RapidOCR's PP-OCRv4 models."""

    name = "rapidocr"

    def __init__(self, *, min_score: float = DEFAULT_MIN_SCORE, threads: int | None = None,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
        if not 0.0 <= min_score <= 1.0:
            raise ConfigError(f"min_score must be in [0, 1], got {min_score}")
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be ≥ 1 or None, got {threads}")
        package = _rapidocr_package()
        self.min_score, self.threads, self.max_pixels = min_score, threads, max_pixels
        options: dict[str, Any] = {"text_score": 0.0, "print_verbose": False}  # boxes are filtered here
        if threads is not None:
            options.update(intra_op_num_threads=threads, inter_op_num_threads=threads)
        try:
            self.engine = package.RapidOCR(**options)
        except Exception as err:  # noqa: BLE001 - a broken installation (model files, onnxruntime)
            raise EncoderError(f"RapidOCR cannot be loaded: {type(err).__name__}: {err}") from err
        self.models_dir = Path(package.__file__).resolve().parent / "models"

    def recipe(self) -> dict[str, Any]:
        """How the text is made: reader, package version, model checksums, score threshold, line rule."""
        models = {}
        for path in sorted(self.models_dir.glob("*.onnx")):
            models[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        try:
            version: str | None = metadata.version("rapidocr-onnxruntime")
        except metadata.PackageNotFoundError:
            version = None
        return {"encoder": self.name, "version": version, "models_sha256": models, "min_score": self.min_score,
                "lines": "greedy vertical overlap >= 0.5, left to right, joined by space and newline"}

    def boxes(self, image: ImageSource) -> list[OcrBox]:
        """Every detected box with its text and score, before the threshold, in RapidOCR's order."""
        rgb = np.asarray(load_image(image, max_pixels=self.max_pixels))
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        raw, _ = self.engine(bgr)
        return [_box_from_quad(quad, text, score) for quad, text, score in (raw or [])]

    def read(self, image: ImageSource) -> OcrResult:
        """The text of one image: boxes scoring ≥ ``min_score`` grouped into lines in reading order."""
        kept = [box for box in self.boxes(image) if box.score >= self.min_score and box.text]
        return OcrResult(group_lines(kept))

    def read_many(self, images: Sequence[ImageSource]) -> list[OcrResult]:
        """:meth:`read` of each image in turn; a bad file raises an error naming it."""
        return [self.read(image) for image in images]
