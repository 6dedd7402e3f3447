"""DecAlign's tensor maths against slow, obviously-correct references: multi-marginal Sinkhorn, GMM EM,
MMD and moments; finite gradients on degenerate batches."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from mmaffect.ops import fit_diagonal_gmm, mmd, multi_marginal_sinkhorn
from mmaffect.ops.moments import feature_moments, moment_matching_loss
from mmaffect.ops.optimal_transport import entropic_ot_loss, sum_of_pairwise_costs


def _simplex(rng: np.random.Generator, k: int) -> np.ndarray:
    a = rng.uniform(0.2, 1.0, size=k)
    return a / a.sum()


def _marginal(plan: np.ndarray, axis: int) -> np.ndarray:
    return plan.sum(axis=tuple(j for j in range(plan.ndim) if j != axis))


def _dual_reference(cost: np.ndarray, marginals: list[np.ndarray], eps: float) -> np.ndarray:
    """Entropic MMOT by maximising its dual with L-BFGS (scipy), float64:
    max_f Σ_m <f_m, a_m> − ε Σ_i exp((Σ_m f_m[i_m] − C_i)/ε); the optimal plan is exp((⊕f − C)/ε)."""
    sizes = cost.shape
    splits = np.cumsum(sizes)[:-1]

    def plan_of(flat: np.ndarray) -> np.ndarray:
        fs = np.split(flat, splits)
        total = -cost.copy()
        for m, f in enumerate(fs):
            shape = [1] * cost.ndim
            shape[m] = sizes[m]
            total = total + f.reshape(shape)
        return np.exp(total / eps)

    def negdual(flat: np.ndarray) -> tuple[float, np.ndarray]:
        fs = np.split(flat, splits)
        plan = plan_of(flat)
        value = sum(f @ a for f, a in zip(fs, marginals)) - eps * plan.sum()
        grad = np.concatenate([a - _marginal(plan, m) for m, a in enumerate(marginals)])
        return -value, -grad

    res = minimize(negdual, np.zeros(sum(sizes)), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-13})
    return plan_of(res.x)


@pytest.mark.parametrize("sizes", [(3, 3, 3), (2, 3, 4), (3, 4)])
def test_multi_marginal_plan_matches_dual_reference_and_marginals(sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    eps = 0.5
    cost = rng.uniform(0.0, 2.0, size=sizes)
    marginals = [_simplex(rng, k) for k in sizes]
    plan = multi_marginal_sinkhorn(torch.from_numpy(cost), [torch.from_numpy(a) for a in marginals],
                                   eps=eps, n_iter=2000).numpy()
    reference = _dual_reference(cost, marginals, eps)
    np.testing.assert_allclose(plan, reference, atol=1e-7, rtol=1e-5)
    for m, a in enumerate(marginals):
        np.testing.assert_allclose(_marginal(plan, m), a, atol=1e-10)
    # the plan is exp(−C/ε) scaled per axis: log P + C/ε is a sum of one function per axis
    g = np.log(plan) + cost / eps
    additive = np.full(g.shape, g.mean())
    for m in range(g.ndim):
        others = tuple(j for j in range(g.ndim) if j != m)
        additive = additive + (g.mean(axis=others, keepdims=True) - g.mean())
    np.testing.assert_allclose(g, additive, atol=1e-8)


def test_default_iterations_small_eps_log_domain_is_stable() -> None:
    """ε = 0.1 with costs up to 30 underflows exp(−C/ε) in float32; the log domain still gives a valid plan."""
    torch.manual_seed(0)
    cost = torch.rand(4, 4, 4) * 30.0
    marginals = [torch.full((4,), 0.25) for _ in range(3)]
    plan = multi_marginal_sinkhorn(cost, marginals, eps=0.1, n_iter=50)
    assert torch.isfinite(plan).all()
    assert abs(float(plan.sum()) - 1.0) < 1e-5
    torch.testing.assert_close(plan.sum((0, 1)), marginals[2], atol=1e-6, rtol=0)  # last update is exact


def test_two_marginals_agree_with_pot() -> None:
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(1)
    a, b = _simplex(rng, 5), _simplex(rng, 4)
    cost = rng.uniform(0.0, 1.0, size=(5, 4))
    eps = 0.1
    reference = ot.sinkhorn(a, b, cost, reg=eps, numItermax=100000, stopThr=1e-14)
    plan = multi_marginal_sinkhorn(torch.from_numpy(cost), [torch.from_numpy(a), torch.from_numpy(b)],
                                   eps=eps, n_iter=5000).numpy()
    np.testing.assert_allclose(plan, reference, atol=1e-9)


def test_entropic_loss_and_joint_cost_match_loops() -> None:
    rng = np.random.default_rng(2)
    c01, c02, c12 = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(3, 4))
    joint = sum_of_pairwise_costs({(0, 1): torch.tensor(c01), (0, 2): torch.tensor(c02),
                                   (1, 2): torch.tensor(c12)}, 3).numpy()
    for i, j, k in itertools.product(range(2), range(3), range(4)):
        assert joint[i, j, k] == pytest.approx(c01[i, j] + c02[i, k] + c12[j, k])
    plan = rng.uniform(size=(2, 3, 4))
    plan[0, 0, 0] = 0.0
    plan /= plan.sum()
    eps = 0.3
    expected = sum(plan[i] * joint[i] + (eps * plan[i] * (math.log(plan[i]) - 1) if plan[i] > 0 else 0.0)
                   for i in itertools.product(range(2), range(3), range(4)))
    value = entropic_ot_loss(torch.tensor(plan), torch.tensor(joint), eps)
    assert float(value) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="axis 1 has size"):
        sum_of_pairwise_costs({(0, 1): torch.zeros(2, 3), (1, 2): torch.zeros(4, 2)}, 3)


def test_sinkhorn_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="3 axes but 2 marginals"):
        multi_marginal_sinkhorn(torch.zeros(2, 2, 2), [torch.full((2,), 0.5)] * 2)
    with pytest.raises(ValueError, match="marginal 1 has shape"):
        multi_marginal_sinkhorn(torch.zeros(2, 3), [torch.full((2,), 0.5), torch.full((2,), 0.5)])


def test_sinkhorn_gradients_finite_with_zero_mass_marginal() -> None:
    cost = torch.rand(3, 3, 3, requires_grad=True)
    a = torch.tensor([0.5, 0.5, 0.0], requires_grad=True)
    marginals = [a, torch.full((3,), 1 / 3), torch.full((3,), 1 / 3)]
    plan = multi_marginal_sinkhorn(cost, marginals)
    entropic_ot_loss(plan, cost, 0.1).backward()
    assert torch.isfinite(cost.grad).all() and torch.isfinite(a.grad).all()


# --------------------------------------------------------------------------------------------- GMM


def _numpy_em(x: np.ndarray, k: int, n_iter: int, var_floor: float) -> tuple[np.ndarray, ...]:
    """Textbook diagonal-GMM EM with loops, from the release's initialisation (float64)."""
    n, d = x.shape
    idx = [int(round(v)) for v in np.linspace(0, n - 1, k)]
    mu = x[idx].copy()
    var = np.tile(np.maximum(x.var(axis=0), var_floor), (k, 1))
    pi = np.full(k, 1.0 / k)

    def posteriors() -> np.ndarray:
        logp = np.zeros((n, k))
        for i in range(n):
            for j in range(k):
                logp[i, j] = (math.log(max(pi[j], 1e-8))
                              - 0.5 * sum((x[i, t] - mu[j, t]) ** 2 / var[j, t] + math.log(2 * math.pi * var[j, t])
                                          for t in range(d)))
        logp -= logp.max(axis=1, keepdims=True)
        p = np.exp(logp)
        return p / p.sum(axis=1, keepdims=True)

    for _ in range(n_iter):
        gamma = posteriors()
        nk = np.maximum(gamma.sum(axis=0), 1e-6)
        pi = nk / n
        mu = np.stack([(gamma[:, j:j + 1] * x).sum(0) / nk[j] for j in range(k)])
        second = np.stack([(gamma[:, j:j + 1] * x ** 2).sum(0) / nk[j] for j in range(k)])
        var = np.maximum(second - mu ** 2, var_floor)
    return mu, var, pi, posteriors()


@pytest.mark.parametrize("n,k,n_iter", [(12, 3, 5), (7, 7, 3), (9, 1, 2), (10, 4, 0)])
def test_em_matches_numpy_reference(n: int, k: int, n_iter: int) -> None:
    rng = np.random.default_rng(n + k)
    x = np.concatenate([rng.normal(loc=c, size=(n // 2, 3)) for c in (-2.0, 2.0)] +
                       [rng.normal(size=(n - 2 * (n // 2), 3))])
    result = fit_diagonal_gmm(torch.from_numpy(x), k, n_iter=n_iter, var_floor=1e-4)
    mu, var, pi, gamma = _numpy_em(x, k, n_iter, 1e-4)
    np.testing.assert_allclose(result.means.numpy(), mu, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(result.variances.numpy(), var, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(result.weights.numpy(), pi, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.posteriors.numpy(), gamma, rtol=1e-8, atol=1e-10)
    assert result.means.shape == (k, 3) and result.posteriors.shape == (n, k)


def test_em_refuses_more_prototypes_than_samples() -> None:
    with pytest.raises(ValueError, match=r"K=5 prototypes but only N=3 samples in the batch"):
        fit_diagonal_gmm(torch.randn(3, 4), 5)


@pytest.mark.parametrize("x", [torch.ones(6, 4), torch.randn(1, 4).repeat(6, 1), torch.randn(2, 4)],
                         ids=["constant", "repeated", "two"])
def test_em_gradients_finite_on_degenerate_batches(x: torch.Tensor) -> None:
    x = x.clone().requires_grad_(True)
    k = min(3, x.shape[0])
    r = fit_diagonal_gmm(x, k)
    loss = r.means.sum() + r.variances.sum() + (r.posteriors * torch.arange(k)).sum() + r.weights.pow(2).sum()
    loss.backward()
    assert torch.isfinite(x.grad).all()
    assert torch.all(r.variances >= 1e-4)


def test_em_gradient_matches_finite_differences() -> None:
    torch.manual_seed(3)
    x = torch.randn(8, 2, dtype=torch.float64, requires_grad=True)

    def fn(inp: torch.Tensor) -> torch.Tensor:
        r = fit_diagonal_gmm(inp, 3, n_iter=3, var_floor=1e-6)
        return (r.means.pow(2).sum() + r.posteriors[:, 0].sum() + r.variances.sum()).reshape(())

    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5)


# --------------------------------------------------------------------------------------- MMD/moments


def test_mmd_matches_loops() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(5, 3)), rng.normal(loc=0.5, size=(4, 3))
    h = 0.7

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return math.exp(-float(((a - b) ** 2).sum()) / (2 * h))

    expected = (sum(k(a, b) for a in x for b in x) / 25 + sum(k(a, b) for a in y for b in y) / 16
                - 2 * sum(k(a, b) for a in x for b in y) / 20)
    assert float(mmd(torch.tensor(x), torch.tensor(y), bandwidth=h)) == pytest.approx(expected, rel=1e-12)
    assert float(mmd(torch.tensor(x), torch.tensor(x))) == pytest.approx(0.0, abs=1e-12)


def test_moments_match_loops() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 3)), rng.exponential(size=(7, 3))

    def moments(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, d = z.shape
        mean = np.array([sum(z[i, t] for i in range(n)) / n for t in range(d)])
        cov = np.array([[sum((z[i, s] - mean[s]) * (z[i, t] - mean[t]) for i in range(n)) / (n - 1)
                         for t in range(d)] for s in range(d)])
        skew = np.array([(sum((z[i, t] - mean[t]) ** 3 for i in range(n)) / n)
                         / max(sum((z[i, t] - mean[t]) ** 2 for i in range(n)) / n, 1e-6) ** 1.5 for t in range(d)])
        return mean, cov, skew

    got = feature_moments(torch.tensor(x))
    for ours, ref in zip(got, moments(x)):
        np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10)
    mx, my = moments(x), moments(y)
    expected = sum(float(((a - b) ** 2).mean()) for a, b in zip(mx, my))
    assert float(moment_matching_loss(torch.tensor(x), torch.tensor(y))) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("n", [2, 6])
def test_mmd_and_moments_gradients_finite_on_repeated_samples(n: int) -> None:
    x = torch.randn(1, 4).repeat(n, 1).requires_grad_(True)
    y = torch.randn(n, 4).requires_grad_(True)
    (mmd(x, y) + moment_matching_loss(x, y) + mmd(x, x)).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
