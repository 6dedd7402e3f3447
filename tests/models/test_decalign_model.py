"""The DecAlign model and objectives: shapes, forward/backward for M = 2, 3, regression and classification,
T = 1 and padded T > 1, finite gradients on degenerate batches, the objectives' formulas, and the
packaged config."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from mmaffect.models.base import build_model
from mmaffect.objectives.decalign import Decoupling, HeterogeneousAlignment, HomogeneousAlignment
from mmaffect.objectives.registry import build_objective
from mmaffect.objectives.supcon import SupervisedContrastive, label_classes, supervised_contrastive_loss
from mmaffect.types import Batch, ModelOutput, TaskSpec

REGRESSION = TaskSpec(kind="regression", metrics="msa")
CLASSIFICATION = TaskSpec(kind="classification", metrics="classification", num_classes=3)
DIMS = {2: {"text": 12, "audio": 5}, 3: {"text": 12, "audio": 5, "vision": 16}}
SMALL = {"hidden": 16, "num_heads": 4, "num_layers": 2, "embed_dropout": 0.1}
OBJECTIVES = {"decoupling": {}, "heterogeneous": {"num_prototypes": 3}, "homogeneous": {}, "supcon": {}}


def _batch(dims: dict[str, int], n: int = 6, task: TaskSpec = REGRESSION, steps: int | None = None,
           seed: int = 0) -> Batch:
    """``steps=None``: modality i has 3 + 2i steps with random padding; else every modality has ``steps``."""
    g = torch.Generator().manual_seed(seed)
    features, masks = {}, {}
    for i, (m, d) in enumerate(dims.items()):
        t = steps if steps is not None else 3 + 2 * i
        lengths = torch.randint(1, t + 1, (n,), generator=g)
        masks[m] = torch.arange(t)[None] < lengths[:, None]
        features[m] = torch.randn(n, t, d, generator=g) * masks[m].unsqueeze(-1)
    labels = torch.randn(n, generator=g) if task.kind == "regression" else torch.randint(0, 3, (n,), generator=g)
    return Batch(features=features, masks=masks, labels=labels, ids=[str(i) for i in range(n)], index=torch.arange(n))


def _task_loss(out: ModelOutput, batch: Batch, task: TaskSpec) -> torch.Tensor:
    if task.kind == "regression":
        return F.mse_loss(out.prediction, batch.labels)
    return F.cross_entropy(out.prediction, batch.labels)


@pytest.mark.parametrize("M", [2, 3])
@pytest.mark.parametrize("task", [REGRESSION, CLASSIFICATION], ids=["regression", "classification"])
@pytest.mark.parametrize("steps,kernel", [(1, 1), (1, 3), (None, 1), (None, 2)], ids=["T1", "T1-k3", "Tpad", "Tpad-k2"])
def test_forward_backward(M: int, task: TaskSpec, steps: int | None, kernel: int) -> None:
    torch.manual_seed(0)
    dims = DIMS[M]
    model = build_model("decalign", dims, task, {**SMALL, "conv_kernel": kernel})
    batch = _batch(dims, task=task, steps=steps)
    out = model(batch)
    n, d = batch.size, 16
    assert out.prediction.shape == ((n,) if task.kind == "regression" else (n, 3))
    reps = out.representations
    for m in dims:
        t = batch.features[m].shape[1]
        # vision has dim 16 = d: its projection is skipped, so its length never shrinks
        t_out = t if dims[m] == d else max(t, kernel) - kernel + 1
        assert reps["specific"][m].shape == reps["shared"][m].shape == (n, t_out, d)
        assert reps["masks"][m].shape == (n, t_out)
        assert reps["pooled"][m].shape == reps["shared_projected"][m].shape == (n, d)
        assert torch.all(reps["specific"][m][~reps["masks"][m]] == 0)
    assert reps["fused"].shape == (n, 2 * M * d)

    objectives = [build_objective(name, weight=0.5, **params) for name, params in OBJECTIVES.items()]
    values = {o.name: o(out, batch) for o in objectives}
    assert all(torch.isfinite(v) and v.dim() == 0 for v in values.values()), values
    loss = _task_loss(out, batch, task) + sum(o.weight * values[o.name] for o in objectives)
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values()), \
        [k for k, g in grads.items() if g is None or not torch.isfinite(g).all()]
    for m in dims:
        assert float(model.specific[m].weight.grad.abs().sum()) > 0


def test_padding_does_not_change_outputs() -> None:
    """Extra padded steps (any content) leave predictions and pooled representations unchanged."""
    torch.manual_seed(1)
    dims = DIMS[3]
    model = build_model("decalign", dims, REGRESSION, {**SMALL, "conv_kernel": {"text": 2}}).eval()
    batch = _batch(dims, steps=None)
    longer = {m: torch.cat([x, torch.randn(x.shape[0], 3, x.shape[2])], dim=1) for m, x in batch.features.items()}
    masks = {m: torch.cat([k, torch.zeros(k.shape[0], 3, dtype=torch.bool)], dim=1) for m, k in batch.masks.items()}
    padded = Batch(features=longer, masks=masks, labels=batch.labels, ids=batch.ids, index=batch.index)
    a, b = model(batch), model(padded)
    torch.testing.assert_close(a.prediction, b.prediction, atol=1e-5, rtol=1e-5)
    for m in dims:
        torch.testing.assert_close(a.representations["pooled"][m], b.representations["pooled"][m])


def test_shared_fusion_mean_and_self_attention() -> None:
    dims = DIMS[3]
    model = build_model("decalign", dims, REGRESSION,
                        {**SMALL, "shared_fusion": "mean", "cross_modal_attention": False, "homogeneous_dim": 8})
    out = model(_batch(dims))
    assert out.representations["fused"].shape == (6, 4 * 16)
    assert all(z.shape == (6, 8) for z in out.representations["shared_projected"].values())


def test_config_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="divisible by num_heads"):
        build_model("decalign", DIMS[2], REGRESSION, {"hidden": 10, "num_heads": 4})
    with pytest.raises(ValueError, match="no_such_key"):
        build_model("decalign", DIMS[2], REGRESSION, {"no_such_key": 1})
    with pytest.raises(ValueError, match="at least 2 modalities"):
        build_model("decalign", {"text": 4}, REGRESSION, {})


# ------------------------------------------------------------------------------------------ objectives


def _rep_output(n: int, dims: int = 4, steps: int = 3, repeated: bool = False, seed: int = 0) -> ModelOutput:
    g = torch.Generator().manual_seed(seed)
    specific, shared = {}, {}
    for m in ("text", "audio", "vision"):
        s = torch.randn(1 if repeated else n, steps, dims, generator=g).expand(n, steps, dims).clone()
        c = torch.randn(1 if repeated else n, steps, dims, generator=g).expand(n, steps, dims).clone()
        specific[m], shared[m] = s.requires_grad_(True), c.requires_grad_(True)
    fused = torch.randn(1 if repeated else n, 6, generator=g).expand(n, 6).clone().requires_grad_(True)
    return ModelOutput(torch.zeros(n), {"specific": specific, "shared": shared, "fused": fused})


def _labels_batch(n: int, labels: torch.Tensor | None = None) -> Batch:
    labels = torch.linspace(-1, 1, n) if labels is None else labels
    return Batch(features={}, masks={}, labels=labels, ids=[str(i) for i in range(n)], index=torch.arange(n))


def _leaves(out: ModelOutput) -> list[torch.Tensor]:
    reps = out.representations
    return [*reps["specific"].values(), *reps["shared"].values(), reps["fused"]]


@pytest.mark.parametrize("n,repeated", [(6, True), (2, False), (2, True)], ids=["repeated", "two", "two-repeated"])
@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_every_objective_finite_gradients_on_degenerate_batches(name: str, n: int, repeated: bool) -> None:
    out = _rep_output(n, repeated=repeated)
    objective = build_objective(name, weight=1.0, **OBJECTIVES[name])
    value = objective(out, _labels_batch(n))
    assert torch.isfinite(value)
    value.backward()
    for t in _leaves(out):
        assert t.grad is None or torch.isfinite(t.grad).all()


def test_objectives_hold_no_parameters() -> None:
    for name, params in OBJECTIVES.items():
        assert list(build_objective(name, **params).parameters()) == []


def test_decoupling_matches_direct_formula() -> None:
    out = _rep_output(5)
    reps = out.representations
    expected = sum(
        sum(F.cosine_similarity(reps["specific"][m][b].flatten(), reps["shared"][m][b].flatten(), dim=0) ** 2
            for b in range(5)) / 5
        for m in reps["specific"]) / 3
    torch.testing.assert_close(Decoupling()(out, _labels_batch(5)), expected)
    assert float(Decoupling()(ModelOutput(torch.zeros(2), {"specific": {"t": torch.ones(2, 3)},
                                                             "shared": {"t": torch.tensor([[1., -1., 0.]] * 2)}}),
                              _labels_batch(2))) == pytest.approx(0.0)


def test_heterogeneous_small_batch_policy() -> None:
    out = _rep_output(3)
    with pytest.raises(ValueError, match=r"K=5 prototypes but only N=3 samples in the batch"):
        HeterogeneousAlignment(num_prototypes=5, small_batch="error")(out, _labels_batch(3))
    objective = HeterogeneousAlignment(num_prototypes=5)
    assert torch.isfinite(objective(out, _labels_batch(3)))
    assert objective.last["num_prototypes"] == 3
    plan = objective.last["plan"]
    assert plan.shape == (3, 3, 3)
    for axis, nu in enumerate(objective.last["marginals"].values()):
        others = tuple(j for j in range(3) if j != axis)
        torch.testing.assert_close(plan.sum(others), nu, atol=1e-3, rtol=0)


def test_heterogeneous_matches_hand_computation_for_two_modalities() -> None:
    from mmaffect.ops import fit_diagonal_gmm, multi_marginal_sinkhorn
    from mmaffect.ops.optimal_transport import entropic_ot_loss

    torch.manual_seed(2)
    x = {"text": torch.randn(8, 3), "audio": torch.randn(8, 3) + 1.0}
    out = ModelOutput(torch.zeros(8), {"specific": x})
    value = HeterogeneousAlignment(num_prototypes=2, local_weight=0.5)(out, _labels_batch(8))
    g = {m: fit_diagonal_gmm(v, 2) for m, v in x.items()}
    cost = torch.zeros(2, 2)
    for i, j in itertools.product(range(2), range(2)):
        a, b = g["text"], g["audio"]
        sd_a, sd_b = a.variances[i].sqrt(), b.variances[j].sqrt()
        cost[i, j] = ((a.means[i] - b.means[j]) ** 2).mean() + ((sd_a - sd_b) ** 2).mean()
    plan = multi_marginal_sinkhorn(cost, [g["text"].posteriors.mean(0), g["audio"].posteriors.mean(0)])
    local = 0.0
    for a, b in (("text", "audio"), ("audio", "text")):
        for n in range(8):
            local += sum(g[a].posteriors[n, k] * ((x[a][n] - g[b].means[k]) ** 2).mean() for k in range(2)) / 8
    expected = entropic_ot_loss(plan, cost, 0.1) + 0.5 * local / 2
    torch.testing.assert_close(value, expected, atol=1e-4, rtol=1e-4)


def test_heterogeneous_does_not_depend_on_modality_order() -> None:
    out = _rep_output(9, seed=4)
    reps = out.representations
    reordered = ModelOutput(out.prediction, {k: dict(reversed(list(v.items()))) for k, v in reps.items()
                                             if isinstance(v, dict)})
    objective = HeterogeneousAlignment(num_prototypes=3, sinkhorn_iters=400)
    torch.testing.assert_close(objective(out, _labels_batch(9)), objective(reordered, _labels_batch(9)),
                               atol=1e-5, rtol=1e-5)


def test_homogeneous_uses_projection_or_falls_back_to_shared_time_mean() -> None:
    from mmaffect.ops import mmd
    from mmaffect.ops.moments import moment_matching_loss

    out = _rep_output(5)
    shared = out.representations["shared"]
    pooled = {m: c.mean(1) for m, c in shared.items()}
    pairs = list(itertools.combinations(pooled, 2))
    expected = sum(moment_matching_loss(pooled[a], pooled[b]) + 0.5 * mmd(pooled[a], pooled[b]) for a, b in pairs) / 3
    torch.testing.assert_close(HomogeneousAlignment(mmd_weight=0.5)(out, _labels_batch(5)), expected)
    projected = {m: torch.randn(5, 7) for m in shared}
    out.representations["shared_projected"] = projected
    expected = sum(moment_matching_loss(projected[a], projected[b]) + mmd(projected[a], projected[b])
                   for a, b in pairs) / 3
    torch.testing.assert_close(HomogeneousAlignment()(out, _labels_batch(5)), expected)


def test_missing_representation_is_named() -> None:
    with pytest.raises(KeyError, match="specific"):
        Decoupling()(ModelOutput(torch.zeros(2), {}), _labels_batch(2))


# -------------------------------------------------------------------------------------------- SupCon


def test_supcon_matches_loop_reference() -> None:
    torch.manual_seed(5)
    z = torch.randn(7, 4)
    classes = torch.tensor([0, 1, 0, 2, 1, 0, 3])
    tau = 0.2
    u = F.normalize(z, dim=1)
    terms = []
    for i in range(7):
        positives = [p for p in range(7) if p != i and classes[p] == classes[i]]
        if not positives:
            continue
        denom = sum(math.exp(float(u[i] @ u[a]) / tau) for a in range(7) if a != i)
        terms.append(-sum(math.log(math.exp(float(u[i] @ u[p]) / tau) / denom) for p in positives) / len(positives))
    expected = sum(terms) / len(terms)
    assert float(supervised_contrastive_loss(z, classes, tau)) == pytest.approx(expected, rel=1e-5)


def test_supcon_finite_without_positives_and_label_classes() -> None:
    z = torch.randn(3, 4, requires_grad=True)
    value = SupervisedContrastive()(ModelOutput(torch.zeros(3), {"fused": z}),
                                    _labels_batch(3, torch.tensor([0, 1, 2])))
    assert float(value.detach()) == 0.0
    value.backward()
    assert torch.isfinite(z.grad).all()
    single = SupervisedContrastive()(ModelOutput(torch.zeros(1), {"fused": torch.randn(1, 4)}),
                                     _labels_batch(1, torch.tensor([0.5])))
    assert torch.isfinite(single)
    assert label_classes(torch.tensor([-1.2, 0.0, 2.0])).tolist() == [-1, 0, 1]
    assert label_classes(torch.tensor([-1.2, 0.0, 2.0]), [0.0]).tolist() == [0, 1, 1]
    assert label_classes(torch.tensor([3, 1])).tolist() == [3, 1]
    with pytest.raises(ValueError, match="increasing"):
        SupervisedContrastive(bins=[1.0, 0.0])
    with pytest.raises(TypeError, match=r"\[B, d\]"):
        SupervisedContrastive(representation="specific")(_rep_output(2), _labels_batch(2))


# -------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize("dataset", [None, "mosi", "mosi_utterance", "mosei", "sims", "iemocap", "paper"])
def test_packaged_config_resolves_and_builds(dataset: str | None) -> None:
    from mmaffect.training.config import resolve_config

    config = resolve_config("decalign", dataset)
    assert set(config.objectives) == {"decoupling", "heterogeneous", "homogeneous", "supcon"}
    if dataset == "paper":
        assert config.objectives["heterogeneous"]["weight"] == config.objectives["homogeneous"]["weight"] == 0.05
    task = CLASSIFICATION if dataset == "iemocap" else REGRESSION
    dims = {"text": 100, "audio": 73, "vision": 100}  # the MOSI utterance features, T = 1
    model = build_model("decalign", dims, task, config.model_params)
    batch = _batch(dims, n=8, task=task, steps=1)
    out = model(batch)
    objectives = [build_objective(name, **params) for name, params in config.objectives.items()]
    loss = _task_loss(out, batch, task) + sum(o.weight * o(out, batch) for o in objectives)
    assert torch.isfinite(loss)
    loss.backward()
