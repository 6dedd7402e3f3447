"""The one inference loop: the perturbation hook sees the standardised batch, on the predictor's own path."""

import numpy as np
import pytest
import torch

from mmaffect.data.synthetic import make_synthetic
from mmaffect.evaluation.inference import predict_split, prediction_scores
from mmaffect.models.base import build_model
from mmaffect.models.predictor import Predictor
from mmaffect.types import TaskSpec


def _predictor(bundle):
    predictor = Predictor(build_model("early_fusion", bundle.dims(), bundle.task, {}), standardize=True)
    train = bundle.split("train")
    predictor.standardizer.fit(train.features, train.lengths)
    return predictor


def test_perturbation_sees_standardised_inputs():
    bundle = make_synthetic(sizes=(200, 20, 200), seed=3)
    for split in bundle.splits.values():  # shift and scale the raw features far from 0 / 1
        split.features = {m: x * 5.0 + 7.0 for m, x in split.features.items()}
    predictor = _predictor(bundle)
    seen = []

    def record(batch):
        x, mask = batch.features["text"], batch.masks["text"]
        seen.append(x[mask].numpy())
        return batch

    plain = predict_split(predictor, bundle.split("test"), bundle.task)
    hooked = predict_split(predictor, bundle.split("test"), bundle.task, perturb=record)
    values = np.concatenate(seen)
    assert abs(values.mean()) < 0.3 and 0.7 < values.std() < 1.3  # standardised, not raw (mean 7, std 5)
    np.testing.assert_allclose(hooked.scores, plain.scores, rtol=1e-6)  # an identity hook changes nothing


def test_seeded_random_perturbation_is_reproducible():
    bundle = make_synthetic(sizes=(50, 10, 40), seed=4)
    predictor = _predictor(bundle)

    def noise(batch):
        batch.features["audio"] = batch.features["audio"] + torch.randn_like(batch.features["audio"])
        return batch

    a = predict_split(predictor, bundle.split("test"), bundle.task, perturb=noise, seed=5)
    b = predict_split(predictor, bundle.split("test"), bundle.task, perturb=noise, seed=5)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_classification_scores_are_probabilities():
    task = TaskSpec(kind="classification", metrics="classification", num_classes=3)
    logits = torch.tensor([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]])
    scores = prediction_scores(logits, task)
    expected = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(1, keepdims=True)
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    regression = TaskSpec(kind="regression", metrics="msa")
    assert prediction_scores(torch.tensor([0.5, -1.0]), regression) == pytest.approx([0.5, -1.0])
