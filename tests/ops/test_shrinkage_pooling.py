"""ops.shrinkage, ops.pooling and the Gaussian prototype cost against slow, obviously-correct references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmaffect.ops.optimal_transport import gaussian_prototype_cost
from mmaffect.ops.pooling import masked_mean
from mmaffect.ops.shrinkage import differentiable_svt, soft_threshold, spectral_shrink


def svt_reference(a: np.ndarray, tau: float) -> np.ndarray:
    """``U max(Σ − τ, 0) Vᵀ`` from numpy's SVD."""
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return (u * np.maximum(s - tau, 0.0)) @ vt


@pytest.mark.parametrize("shape", [(5, 8), (8, 5), (6, 6)])
def test_differentiable_svt_matches_svd_reference(shape):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, *shape))
    taus = np.array([0.0, 0.7, 1.5])
    got = differentiable_svt(torch.from_numpy(a), torch.from_numpy(taus)).numpy()
    for i in range(3):
        np.testing.assert_allclose(got[i], svt_reference(a[i], taus[i]), atol=1e-10)


def test_svt_above_the_largest_singular_value_is_zero_and_keeps_dtype():
    a = torch.randn(2, 4, 6)
    tau = torch.linalg.matrix_norm(a, ord=2) + 0.1
    out = differentiable_svt(a, tau)
    assert out.dtype == torch.float32 and torch.count_nonzero(out) == 0


def test_spectral_shrink_gradient_is_finite_and_correct():
    g = torch.randn(2, 4, 4, dtype=torch.float64)
    g = g @ g.mT
    tau = torch.tensor([0.3, 0.6], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, t: spectral_shrink(0.5 * (x + x.mT), t), (g.requires_grad_(), tau))
    repeated = torch.eye(4, dtype=torch.float64).expand(1, 4, 4).clone().requires_grad_()  # equal eigenvalues
    spectral_shrink(repeated, torch.tensor([0.5], dtype=torch.float64)).sum().backward()
    assert torch.isfinite(repeated.grad).all()


def test_soft_threshold_matches_elementwise_reference():
    v = torch.linspace(-2, 2, 41, dtype=torch.float64)
    expected = torch.tensor([np.sign(x) * max(abs(x) - 0.5, 0.0) for x in v.tolist()], dtype=torch.float64)
    torch.testing.assert_close(soft_threshold(v, 0.5), expected)


def test_masked_mean_matches_loop_reference():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6, 3))
    lengths = [6, 3, 1, 0]
    mask = np.arange(6)[None, :] < np.array(lengths)[:, None]
    got = masked_mean(torch.from_numpy(x), torch.from_numpy(mask)).numpy()
    for b, n in enumerate(lengths):
        want = x[b, :n].mean(0) if n else np.zeros(3)
        np.testing.assert_allclose(got[b], want, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gaussian_prototype_cost_matches_loop_reference(reduction):
    rng = np.random.default_rng(2)
    mu_a, mu_b = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    var_a, var_b = rng.uniform(0.1, 2, (3, 5)), rng.uniform(0.1, 2, (4, 5))
    red = np.mean if reduction == "mean" else np.sum
    want = np.array([[red((mu_a[i] - mu_b[j]) ** 2) + red(var_a[i] + var_b[j] - 2 * np.sqrt(var_a[i] * var_b[j] + 1e-8))
                      for j in range(4)] for i in range(3)])
    got = gaussian_prototype_cost(*(torch.from_numpy(t) for t in (mu_a, var_a, mu_b, var_b)), reduction=reduction)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
    # W2² of diagonal Gaussians with the sum: zero for identical prototypes (up to the 1e-8 in the root)
    same = gaussian_prototype_cost(torch.from_numpy(mu_a), torch.from_numpy(var_a), torch.from_numpy(mu_a),
                                   torch.from_numpy(var_a), reduction="sum")
    assert np.allclose(np.diag(same.numpy()), 0.0, atol=1e-6)
