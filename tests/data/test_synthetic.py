import numpy as np

from mmaffect.data.loader import make_loader
from mmaffect.data.synthetic import make_synthetic


def test_shapes_lengths_and_padding():
    bundle = make_synthetic(sizes=(50, 20, 20), seed=3)
    train = bundle.split("train")
    for m, x in train.features.items():
        assert x.shape[0] == 50 and x.dtype == np.float32
        steps = np.arange(x.shape[1])[None, :]
        padded = steps >= train.lengths[m][:, None]
        assert np.all(x[padded] == 0) and np.all(train.lengths[m] >= 1)
    assert np.all(np.abs(train.labels) <= 3)


def test_planted_structure_is_recoverable():
    """Mean-pooled features are linear in (shared, specific): least squares explains them almost fully."""
    bundle = make_synthetic(sizes=(400, 10, 10), noise=0.3, conflict=0.0, seed=1)
    train = bundle.split("train")
    truth = bundle.provenance["truth"]
    m = "audio"
    x, length = train.features[m], train.lengths[m]
    pooled = x.sum(1) / length[:, None]
    latents = np.concatenate([train.extras["shared_latent"], train.extras[f"specific_latent_{m}"]], axis=1)
    coef, *_ = np.linalg.lstsq(latents, pooled, rcond=None)
    expected = np.concatenate([truth.shared_projection[m], truth.specific_projection[m]], axis=1).T
    assert np.allclose(coef, expected, atol=0.1)


def test_conflict_flips_shared_part_for_one_modality():
    bundle = make_synthetic(sizes=(300, 10, 10), conflict=1.0, noise=0.0, seed=2)
    assert bundle.split("train").extras["conflict"].all()


def test_classification_variant_and_loader():
    bundle = make_synthetic(sizes=(90, 30, 30), task="classification", num_classes=3)
    assert bundle.task.kind == "classification"
    assert set(np.unique(bundle.split("train").labels)) == {0, 1, 2}
    batch = next(iter(make_loader(bundle.split("train"), classification=True, batch_size=16, shuffle=True)))
    assert batch.labels.dtype.is_floating_point is False
    for m in bundle.modalities:
        assert batch.features[m].shape[0] == 16
        assert batch.masks[m].sum(1).min() >= 1
