"""A sample whose modality has no real step (a clip with no face, a failed file stored with length 0)
must give finite outputs and gradients in every model, and must not change the other samples."""

from __future__ import annotations

import pytest
import torch

from mmaffect.models.base import MODELS, build_model
from mmaffect.ops.pooling import key_padding, masked_mean
from mmaffect.types import Batch, TaskSpec

DIMS = {"audio": 6, "vision": 5, "text": 4}
TASK = TaskSpec(kind="classification", metrics="classification", num_classes=3, label_names=["a", "b", "c"])


def _batch(n: int = 4, steps: int = 7) -> Batch:
    g = torch.Generator().manual_seed(0)
    features = {m: torch.randn(n, steps, d, generator=g) for m, d in DIMS.items()}
    masks = {m: torch.ones(n, steps, dtype=torch.bool) for m in DIMS}
    masks["vision"][1] = False  # sample 1 has no vision step at all
    features["vision"][1] = 0.0
    masks["audio"][2, 3:] = False
    return Batch(features=features, masks=masks, labels=torch.tensor([0, 1, 2, 0]), ids=list("abcd"),
                 index=torch.arange(n))


def test_key_padding_unmasks_only_empty_rows():
    mask = torch.tensor([[True, False, False], [False, False, False], [True, True, True]])
    assert key_padding(mask).tolist() == [[False, True, True], [False, False, False], [False, False, False]]


def test_masked_mean_ignores_non_finite_padding():
    x = torch.tensor([[[1.0], [float("nan")]], [[float("inf")], [float("nan")]]])
    mask = torch.tensor([[True, False], [False, False]])
    assert masked_mean(x, mask).tolist() == [[1.0], [0.0]]


@pytest.mark.parametrize("name", ["early_fusion", "late_fusion", "tfn", "lmf", "mult", "pmrl", "decalign"])
def test_models_stay_finite_with_an_empty_modality(name):
    if name not in MODELS:
        pytest.skip(f"{name} not registered")
    torch.manual_seed(0)
    params = {"encoder": "transformer"} if name in ("early_fusion", "late_fusion") else {}
    try:
        model = build_model(name, DIMS, TASK, params)
    except ValueError:
        model = build_model(name, DIMS, TASK, {})
    batch = _batch()
    model.train(True)
    assert torch.isfinite(model(batch).prediction).all(), name
    model.eval()
    with torch.no_grad():  # inference: PyTorch's fast attention path
        assert torch.isfinite(model(batch).prediction).all(), name
    model.train(True)
    model(batch).prediction.sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads), name
