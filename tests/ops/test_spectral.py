"""PMRL spectral ops, uniformity, retrieval metrics and the objectives, against slow NumPy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmaffect.metrics.retrieval import alignment_score, cross_modal_retrieval, retrieval_metrics, retrieval_ranks
from mmaffect.objectives.registry import build_objective
from mmaffect.ops.spectral import (
    leading_direction,
    leading_direction_contrast,
    safe_eigh,
    singular_values,
    spectral_alignment_loss,
    spectral_decomposition,
)
from mmaffect.ops.uniformity import uniformity
from mmaffect.types import Batch, ModelOutput

# ---------------------------------------------------------------- references


def _np_unit(Z: np.ndarray) -> np.ndarray:
    return Z / np.linalg.norm(Z, axis=-1, keepdims=True)


def _np_svd(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: singular values and leading left singular vector of the d×M matrix of unit columns."""
    S, U = [], []
    for z in _np_unit(Z):
        u, s, _ = np.linalg.svd(z.T, full_matrices=False)
        S.append(s)
        U.append(u[:, 0])
    return np.array(S), np.array(U)


def _np_log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def _np_infonce(q: np.ndarray, k: np.ndarray, tau: float) -> float:
    q, k = _np_unit(q), _np_unit(k)
    logits = q @ k.T / tau
    return float(-np.mean(np.diag(_np_log_softmax(logits))))


def _orthogonal(B: int, M: int, d: int, dtype=torch.float32, scale: float = 3.0) -> torch.Tensor:
    """``[B, M, d]`` with each sample's modalities exactly orthogonal (random frames, random lengths)."""
    g = torch.Generator().manual_seed(100 + M)
    Q, _ = torch.linalg.qr(torch.randn(B, d, M, generator=g, dtype=torch.float64))
    lengths = scale * (0.5 + torch.rand(B, M, 1, generator=g, dtype=torch.float64))
    return (Q.transpose(-1, -2) * lengths).to(dtype)


# ---------------------------------------------------------------- singular values and the intra loss


@pytest.mark.parametrize("M", [2, 3, 4])
def test_singular_values_and_loss_match_numpy_svd(M: int) -> None:
    rng = np.random.default_rng(M)
    Z = rng.normal(size=(7, M, 16)) * rng.uniform(0.1, 5.0, size=(7, M, 1))
    S_ref, _ = _np_svd(Z)
    Zt = torch.tensor(Z)
    np.testing.assert_allclose(singular_values(Zt).numpy(), S_ref, atol=1e-10)
    np.testing.assert_allclose(singular_values(Zt.float()).numpy(), S_ref, atol=1e-5)
    np.testing.assert_allclose((S_ref**2).sum(-1), M, rtol=1e-12)
    for tau in (0.05, 0.5):
        ref = float(-np.mean(_np_log_softmax(S_ref / tau)[:, 0]))
        assert spectral_alignment_loss(Zt, tau).item() == pytest.approx(ref, rel=1e-9)
        assert spectral_alignment_loss(Zt.float(), tau).item() == pytest.approx(ref, rel=1e-4)


@pytest.mark.parametrize("M", [2, 3, 4])
def test_collinear_modalities_reach_the_minimum(M: int) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 1, 12))
    scales = rng.uniform(0.5, 4.0, size=(5, M, 1)) * rng.choice([-1.0, 1.0], size=(5, M, 1))
    Z = torch.tensor(base * scales, dtype=torch.float32)
    sigma = singular_values(Z)
    np.testing.assert_allclose(sigma[:, 0].numpy(), math.sqrt(M), rtol=1e-6)
    assert float(sigma[:, 1:].max()) < 1e-3
    tau = 0.05
    minimum = float(-_np_log_softmax(np.array([math.sqrt(M)] + [0.0] * (M - 1)) / tau)[0])
    assert spectral_alignment_loss(Z, tau).item() == pytest.approx(minimum, abs=1e-5)
    # any non-collinear configuration is worse
    Zr = torch.randn(64, M, 12)
    assert spectral_alignment_loss(Zr, tau).item() > minimum


@pytest.mark.parametrize("M", [2, 3, 4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_finite_and_bounded_for_orthogonal_modalities(M: int, dtype: torch.dtype) -> None:
    Z = _orthogonal(16, M, 8, dtype).requires_grad_()
    sigma = singular_values(Z)
    np.testing.assert_allclose(sigma.detach().numpy(), 1.0, atol=1e-5)  # σ_1 = … = σ_M
    for loss in (
        spectral_alignment_loss(Z, 0.05),
        leading_direction_contrast(leading_direction(Z), 0.1),
        leading_direction_contrast(leading_direction(Z), 0.1, keys=Z, symmetric=True),
        leading_direction(Z).sum(),
    ):
        (grad,) = torch.autograd.grad(loss, Z)
        assert torch.isfinite(grad).all()
        assert float(grad.norm()) < 1e3


@pytest.mark.parametrize("M", [2, 3, 4])
def test_gradients_bounded_near_degeneracy(M: int) -> None:
    Z0 = _orthogonal(8, M, 6, torch.float64)
    for eps in (1e-9, 1e-6, 1e-3):
        Z = (Z0 + eps * torch.randn_like(Z0)).requires_grad_()
        loss = spectral_alignment_loss(Z) + leading_direction_contrast(leading_direction(Z))
        (grad,) = torch.autograd.grad(loss, Z)
        assert torch.isfinite(grad).all() and float(grad.norm()) < 1e3


def test_svd_backward_fails_where_the_gram_route_does_not() -> None:
    Z = torch.nn.functional.normalize(_orthogonal(4, 3, 6, torch.float64), dim=-1)
    Zd = Z.transpose(-1, -2).contiguous().requires_grad_()
    U, S, _ = torch.linalg.svd(Zd, full_matrices=False)
    (grad,) = torch.autograd.grad(U[..., 0].sum() + S[:, 0].sum(), Zd)
    assert not (torch.isfinite(grad).all() and float(grad.norm()) < 1e3)
    Zg = Z.clone().requires_grad_()
    (grad,) = torch.autograd.grad(leading_direction(Zg).sum() + singular_values(Zg)[:, 0].sum(), Zg)
    assert torch.isfinite(grad).all() and float(grad.norm()) < 1e3


# ---------------------------------------------------------------- leading direction


@pytest.mark.parametrize("M", [2, 3, 4])
def test_leading_direction_matches_numpy_with_sign_convention(M: int) -> None:
    rng = np.random.default_rng(10 + M)
    Z = rng.normal(size=(9, M, 10)) + 0.8 * rng.normal(size=(9, 1, 10))
    _, U_ref = _np_svd(Z)
    sums = np.einsum("bd,bmd->b", U_ref, _np_unit(Z))
    U_ref = U_ref * np.where(sums >= 0, 1.0, -1.0)[:, None]
    u = leading_direction(torch.tensor(Z)).numpy()
    np.testing.assert_allclose(u, U_ref, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-12)
    # the convention Σ_m <u_1, ẑ_m> ≥ 0, also for the negated input (which flips numpy's choice)
    for sign in (1.0, -1.0):
        Zt = torch.tensor(sign * Z)
        u = leading_direction(Zt)
        assert (torch.einsum("bd,bmd->b", u, torch.nn.functional.normalize(Zt, dim=-1)) >= 0).all()
    sigma, u2 = spectral_decomposition(torch.tensor(Z))
    np.testing.assert_allclose(sigma.numpy(), _np_svd(Z)[0], atol=1e-10)
    np.testing.assert_allclose(u2.numpy(), U_ref, atol=1e-9)


def test_leading_direction_gradient_is_exact_away_from_degeneracy() -> None:
    torch.manual_seed(0)
    Z = (torch.randn(5, 3, 6, dtype=torch.float64) + 2 * torch.randn(5, 1, 6, dtype=torch.float64)).requires_grad_()
    w = torch.randn(5, 6, dtype=torch.float64)
    (g_safe,) = torch.autograd.grad((leading_direction(Z, gap_eps=0.0) * w).sum(), Z)
    Zn = torch.nn.functional.normalize(Z, dim=-1)
    U, _, _ = torch.linalg.svd(Zn.transpose(-1, -2), full_matrices=False)
    u = U[..., 0]
    u = u * torch.where(torch.einsum("bd,bmd->b", u, Zn) >= 0, 1.0, -1.0).to(u.dtype).detach()[:, None]
    (g_svd,) = torch.autograd.grad((u * w).sum(), Z)
    torch.testing.assert_close(g_safe, g_svd, atol=1e-8, rtol=1e-6)
    (g_def,) = torch.autograd.grad((leading_direction(Z) * w).sum(), Z)
    torch.testing.assert_close(g_def, g_svd, atol=1e-2, rtol=1e-2)


def test_safe_eigh_backward_matches_torch_eigh() -> None:
    torch.manual_seed(1)
    A = torch.randn(4, 5, 5, dtype=torch.float64)
    A = (A + A.transpose(-1, -2)).requires_grad_()
    wV, wl = torch.randn(4, 5, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)

    def objective(fn):
        lam, V = fn(A)
        V = V * torch.sign(V[..., :1, :])  # sign-invariant function of the eigenvectors
        return (V * wV).sum() + (lam * wl).sum()

    (g_ref,) = torch.autograd.grad(objective(torch.linalg.eigh), A)
    (g_safe,) = torch.autograd.grad(objective(lambda a: safe_eigh(a, 0.0)), A)
    torch.testing.assert_close(g_safe, g_ref, atol=1e-10, rtol=1e-8)


# ---------------------------------------------------------------- inter-instance contrast


def test_leading_direction_contrast_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    u = rng.normal(size=(8, 6))
    assert leading_direction_contrast(torch.tensor(u), 0.1).item() == pytest.approx(_np_infonce(u, u, 0.1), rel=1e-10)
    keys = rng.normal(size=(8, 3, 6))
    one_way = np.mean([_np_infonce(u, keys[:, m], 0.2) for m in range(3)])
    both = np.mean([0.5 * (_np_infonce(u, keys[:, m], 0.2) + _np_infonce(keys[:, m], u, 0.2)) for m in range(3)])
    Ut, Kt = torch.tensor(u), torch.tensor(keys)
    assert leading_direction_contrast(Ut, 0.2, keys=Kt).item() == pytest.approx(one_way, rel=1e-10)
    assert leading_direction_contrast(Ut, 0.2, keys=Kt, symmetric=True).item() == pytest.approx(both, rel=1e-10)
    assert leading_direction_contrast(Ut[:1], 0.1).item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="keys"):
        leading_direction_contrast(Ut, 0.1, keys=Kt[:, :, :3])


# ---------------------------------------------------------------- uniformity


def test_uniformity_matches_double_loop() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(size=(9, 5)) * rng.uniform(0.1, 3, size=(9, 1))
    zn = _np_unit(z)
    for t in (2.0, 0.5):
        terms = [np.exp(-t * np.sum((zn[i] - zn[j]) ** 2)) for i in range(9) for j in range(9) if i != j]
        assert uniformity(torch.tensor(z), t).item() == pytest.approx(math.log(np.mean(terms)), rel=1e-10)
    # identical rows: the maximum 0, finite gradient
    same = torch.ones(4, 3, requires_grad=True)
    value = uniformity(same)
    assert value.item() == pytest.approx(0.0, abs=1e-6)
    assert torch.isfinite(torch.autograd.grad(value, same)[0]).all()
    with pytest.raises(ValueError, match="at least 2"):
        uniformity(torch.ones(1, 3))


# ---------------------------------------------------------------- retrieval metrics


def _brute_ranks(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = _np_unit(a), _np_unit(b)
    ranks = []
    for i in range(len(a)):
        sims = [float(a[i] @ b[j]) for j in range(len(b))]
        order = sorted(range(len(b)), key=lambda j: -sims[j])
        ranks.append(order.index(i) + 1)
    return np.array(ranks)


def test_retrieval_metrics_match_brute_force() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(size=(60, 8))
    b = a + 1.2 * rng.normal(size=(60, 8))
    ranks = _brute_ranks(a, b)
    np.testing.assert_array_equal(retrieval_ranks(a, b), ranks)
    got = retrieval_metrics(torch.tensor(a), b)
    for k in (1, 5, 10):
        assert got[f"R@{k}"] == pytest.approx(np.mean(ranks <= k))
    assert got["MedR"] == pytest.approx(np.median(ranks))
    perfect = retrieval_metrics(a, 3 * a)
    assert perfect == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0, "MedR": 1.0}
    with pytest.raises(ValueError, match="same shape"):
        retrieval_metrics(a, b[:10])


def test_cross_modal_retrieval_and_alignment_score() -> None:
    rng = np.random.default_rng(6)
    emb = {m: rng.normal(size=(20, 6)) for m in ("text", "audio", "vision")}
    out = cross_modal_retrieval(emb)
    assert len(out) == 6 * 4
    assert out["text->audio/R@1"] == retrieval_metrics(emb["text"], emb["audio"])["R@1"]
    assert out["audio->text/MedR"] == retrieval_metrics(emb["audio"], emb["text"])["MedR"]
    Z = np.stack([emb[m] for m in emb], axis=1)
    assert alignment_score(emb) == pytest.approx(np.mean(_np_svd(Z)[0][:, 0] / math.sqrt(3)), rel=1e-10)
    base = rng.normal(size=(20, 6))
    assert alignment_score({"a": base, "b": -2 * base, "c": 5 * base}) == pytest.approx(1.0)
    eye = np.eye(4)[None].repeat(5, 0)
    assert alignment_score({str(m): eye[:, m] for m in range(4)}) == pytest.approx(0.5)


# ---------------------------------------------------------------- objectives


def _output(pooled: dict[str, torch.Tensor], fused: torch.Tensor | None = None) -> ModelOutput:
    reps: dict = {"pooled": pooled}
    if fused is not None:
        reps["fused"] = fused
    return ModelOutput(torch.zeros(next(iter(pooled.values())).shape[0]), reps)


def _batch(n: int) -> Batch:
    return Batch(features={}, masks={}, labels=torch.zeros(n), ids=[str(i) for i in range(n)], index=torch.arange(n))


def test_objectives_from_registry() -> None:
    torch.manual_seed(2)
    pooled = {m: torch.randn(6, 8, requires_grad=True) for m in ("text", "audio", "vision")}
    Z = torch.stack(list(pooled.values()), dim=1)
    out, batch = _output(pooled, torch.randn(6, 5)), _batch(6)

    spectral = build_objective("spectral_alignment", weight=0.3, tau=0.05)
    assert spectral.weight == 0.3 and not list(spectral.parameters())
    assert spectral(out, batch).item() == pytest.approx(spectral_alignment_loss(Z, 0.05).item())
    sub = build_objective("spectral_alignment", modalities=["text", "audio"])
    assert sub(out, batch).item() == pytest.approx(spectral_alignment_loss(Z[:, :2]).item())

    contrast = build_objective("leading_direction_contrast", tau=0.1)
    u = leading_direction(Z)
    assert contrast(out, batch).item() == pytest.approx(leading_direction_contrast(u, 0.1).item())
    keyed = build_objective("leading_direction_contrast", contrast_with="modalities")
    expected = leading_direction_contrast(u, 0.1, keys=Z, symmetric=True).item()
    assert keyed(out, batch).item() == pytest.approx(expected)
    (spectral(out, batch) + contrast(out, batch)).backward()
    assert all(torch.isfinite(p.grad).all() for p in pooled.values())

    uni = build_objective("uniformity", t=2.0)
    assert uni(out, batch).item() == pytest.approx(uniformity(out.representations["fused"]).item())
    per_mod = build_objective("uniformity", representation="pooled")
    assert per_mod(out, batch).item() == pytest.approx(np.mean([uniformity(p).item() for p in pooled.values()]))
    assert uni(_output(pooled, torch.randn(1, 5)), _batch(1)).item() == 0.0


def test_objectives_explain_bad_representations() -> None:
    uneven = {"text": torch.randn(4, 8), "audio": torch.randn(4, 5)}
    with pytest.raises(ValueError, match="common dimension"):
        build_objective("spectral_alignment")(_output(uneven), _batch(4))
    with pytest.raises(KeyError, match="pooled"):
        build_objective("leading_direction_contrast")(ModelOutput(torch.zeros(4), {}), _batch(4))
    with pytest.raises(ValueError, match="at least 2 modalities"):
        build_objective("spectral_alignment")(_output({"text": torch.randn(4, 8)}), _batch(4))
    with pytest.raises(KeyError, match="vision"):
        build_objective("spectral_alignment", modalities=["text", "vision"])(_output(uneven), _batch(4))
