"""The PMRL model: shapes, diagnostics, forward/backward with its objectives, and its packaged config."""

from __future__ import annotations

import math

import pytest
import torch

from mmaffect.models.base import build_model
from mmaffect.objectives.registry import build_objective
from mmaffect.training.config import resolve_config
from mmaffect.types import Batch, TaskSpec

REGRESSION = TaskSpec(kind="regression", metrics="msa")
CLASSIFICATION = TaskSpec(kind="classification", metrics="classification", num_classes=3)


def _batch(dims: dict[str, int], n: int = 6, task: TaskSpec = REGRESSION, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    features, masks = {}, {}
    for i, (m, d) in enumerate(dims.items()):
        t = 4 + 2 * i
        features[m] = torch.randn(n, t, d, generator=g)
        lengths = torch.randint(1, t + 1, (n,), generator=g)
        masks[m] = torch.arange(t)[None] < lengths[:, None]
    labels = torch.randn(n, generator=g) if task.kind == "regression" else torch.randint(0, 3, (n,), generator=g)
    return Batch(features=features, masks=masks, labels=labels, ids=[str(i) for i in range(n)], index=torch.arange(n))


DIMS = {
    2: {"text": 12, "audio": 5},
    3: {"text": 12, "audio": 5, "vision": 7},
}


@pytest.mark.parametrize("M", [2, 3])
@pytest.mark.parametrize("task", [REGRESSION, CLASSIFICATION], ids=["regression", "classification"])
@pytest.mark.parametrize("encoder,head_input", [("mean", "both"), ("gru", "leading"), ("transformer", "pooled")])
def test_forward_backward(M: int, task: TaskSpec, encoder: str, head_input: str) -> None:
    torch.manual_seed(0)
    dims = DIMS[M]
    model = build_model("pmrl", dims, task, {"hidden": 32, "embed_dim": 16, "encoder": encoder,
                                             "head_input": head_input})
    batch = _batch(dims, task=task)
    out = model(batch)
    n = batch.size
    assert out.prediction.shape == ((n,) if task.kind == "regression" else (n, 3))
    assert set(out.representations["pooled"]) == set(dims)
    assert all(p.shape == (n, 16) for p in out.representations["pooled"].values())
    fused_dim = {"both": 16 * (M + 1), "leading": 16, "pooled": 16 * M}[head_input]
    assert out.representations["fused"].shape == (n, fused_dim)
    sigma = out.diagnostics["singular_values"]
    assert sigma.shape == (n, M) and not sigma.requires_grad
    torch.testing.assert_close((sigma**2).sum(-1), torch.full((n,), float(M)), atol=1e-4, rtol=1e-4)
    assert torch.all(sigma[:, :-1] >= sigma[:, 1:] - 1e-6)
    alignment = out.diagnostics["alignment"]
    assert alignment.shape == (n,)
    assert torch.all(alignment >= 1 / math.sqrt(M) - 1e-5) and torch.all(alignment <= 1 + 1e-5)

    task_loss = (torch.nn.functional.mse_loss(out.prediction, batch.labels) if task.kind == "regression"
                 else torch.nn.functional.cross_entropy(out.prediction, batch.labels))
    objectives = [build_objective(name, weight=0.1) for name in ("spectral_alignment", "leading_direction_contrast")]
    loss = task_loss + sum(o.weight * o(out, batch) for o in objectives)
    assert torch.isfinite(loss)
    loss.backward()
    for m in dims:
        grads = [p.grad for p in model.encoders[m].parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        assert any(float(g.abs().sum()) > 0 for g in grads)


def test_objective_gradients_finite_at_exactly_orthogonal_embeddings() -> None:
    """Projections that map the two modalities to orthogonal axes give σ_1 = σ_2 for every sample."""
    dims = {"text": 4, "audio": 4}
    model = build_model("pmrl", dims, REGRESSION, {"hidden": 8, "embed_dim": 8, "dropout": 0.0})
    with torch.no_grad():
        for i, m in enumerate(dims):
            proj = model.projections[m][-1]
            proj.weight.zero_()
            proj.bias.zero_()
            proj.bias[i] = 1.0
    batch = _batch(dims)
    out = model(batch)
    torch.testing.assert_close(out.diagnostics["singular_values"], torch.ones(batch.size, 2))
    loss = build_objective("spectral_alignment")(out, batch) + build_objective("leading_direction_contrast")(out, batch)
    loss = loss + out.prediction.sum()
    loss.backward()
    total = torch.sqrt(sum((p.grad**2).sum() for p in model.parameters() if p.grad is not None))
    assert torch.isfinite(total) and float(total) < 1e3


def test_embed_dim_defaults_to_hidden_and_missing_modality_is_named() -> None:
    dims = {"text": 6, "audio": 3}
    model = build_model("pmrl", dims, REGRESSION, {"hidden": 24})
    out = model(_batch(dims))
    assert out.representations["pooled"]["text"].shape[-1] == 24
    batch = _batch({"text": 6})
    with pytest.raises(KeyError, match="audio"):
        model(batch)
    with pytest.raises(ValueError, match="head_input"):
        build_model("pmrl", dims, REGRESSION, {"head_input": "attention"})


def test_packaged_config_resolves() -> None:
    config = resolve_config("pmrl", "mosi")
    assert config.model == "pmrl"
    assert set(config.objectives) == {"spectral_alignment", "leading_direction_contrast"}
    assert config.objectives["spectral_alignment"]["tau"] == 0.05
    assert config.objectives["leading_direction_contrast"]["tau"] == 0.1
    model = build_model("pmrl", {"text": 6, "audio": 3}, REGRESSION, config.model_params)
    assert model.config.head_input in ("leading", "pooled", "both")
    for name, params in config.objectives.items():
        params = dict(params)
        assert build_objective(name, **params).weight > 0
