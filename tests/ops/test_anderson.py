"""Anderson acceleration: the batched, incrementally updated step against a direct least-squares
solve, and finite termination on linear fixed-point maps (where it is GMRES)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmaffect.ops.anderson import AndersonHistory


def direct_step(images: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    """``Σ α_i f_i`` with ``α = argmin_{Σα=1} ||Σ α_i g_i||``, by least squares on the differences
    ``g_i − g_k`` (``α_k = 1 − Σ_{i<k} α_i``), the textbook form."""
    g_k, f_k = residuals[-1], images[-1]
    d_g = (residuals[:-1] - g_k).T
    gamma, *_ = np.linalg.lstsq(d_g, -g_k, rcond=None)
    return f_k + (images[:-1] - f_k).T @ gamma


def test_step_matches_the_direct_least_squares_solution_per_sample() -> None:
    rng = np.random.default_rng(0)
    b, dim, memory = 3, 12, 4
    hist = AndersonHistory(b, dim, memory, dtype=torch.float64, device="cpu", regularization=0.0)
    images, residuals = rng.normal(size=(7, b, dim)), rng.normal(size=(7, b, dim))
    for k in range(7):  # 7 pushes into 5 slots: the ring overwrites the oldest two
        hist.push(torch.from_numpy(images[k]), torch.from_numpy(residuals[k]))
    point, ready = hist.step()
    assert bool(ready.all())
    for i in range(b):
        expected = direct_step(images[2:, i], residuals[2:, i])
        np.testing.assert_allclose(point[i].numpy(), expected, rtol=1e-9, atol=1e-9)


def test_reset_and_short_history_fall_back_to_the_plain_image() -> None:
    hist = AndersonHistory(2, 5, 3, dtype=torch.float64, device="cpu")
    f0, g0 = torch.randn(2, 5, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)
    hist.push(f0, g0)
    point, ready = hist.step()
    assert not bool(ready.any())
    torch.testing.assert_close(point, f0)  # one entry: α = 1 on it
    hist.push(torch.randn(2, 5, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64))
    hist.reset(torch.tensor([True, False]))
    f2 = torch.randn(2, 5, dtype=torch.float64)
    hist.push(f2, torch.randn(2, 5, dtype=torch.float64))
    point, ready = hist.step()
    assert ready.tolist() == [False, True]
    torch.testing.assert_close(point[0], f2[0])


@pytest.mark.parametrize("dim", [3, 6])
def test_linear_map_terminates_in_dim_plus_one_steps(dim: int) -> None:
    """For ``T(ζ) = Aζ + c`` Anderson with memory ≥ dim reaches the fixed point after dim + 1 steps,
    where the plain iteration (contraction 0.95) is still far. (Without regularization the Gram form
    stalls near 1e-7: it squares the condition number of the differences.)"""
    g = torch.Generator().manual_seed(dim)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    a = q @ torch.diag(torch.linspace(0.5, 0.95, dim, dtype=torch.float64)) @ q.T
    c = torch.randn(dim, generator=g, dtype=torch.float64)
    fixed = torch.linalg.solve(torch.eye(dim, dtype=torch.float64) - a, c)
    hist = AndersonHistory(1, dim, dim, dtype=torch.float64, device="cpu", regularization=1e-14)
    zeta = torch.zeros(1, dim, dtype=torch.float64)
    plain = zeta.clone()
    for _ in range(dim + 2):
        image = zeta @ a.T + c
        hist.push(image, image - zeta)
        zeta, _ = hist.step()
        plain = plain @ a.T + c
    assert float(torch.linalg.vector_norm(zeta[0] - fixed)) < 1e-8 * float(torch.linalg.vector_norm(fixed))
    assert float(torch.linalg.vector_norm(plain[0] - fixed)) > 1e-2 * float(torch.linalg.vector_norm(fixed))


def test_zero_residuals_give_the_plain_step() -> None:
    """An exactly converged history (all residuals zero) makes the least-squares system singular."""
    hist = AndersonHistory(2, 4, 3, dtype=torch.float64, device="cpu", regularization=0.0)
    for k in range(3):
        hist.push(torch.full((2, 4), float(k), dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64))
    point, ready = hist.step()
    assert not bool(ready.any())
    torch.testing.assert_close(point, torch.full((2, 4), 2.0, dtype=torch.float64))


def test_memory_must_be_positive() -> None:
    with pytest.raises(ValueError, match="memory"):
        AndersonHistory(1, 4, 0, dtype=torch.float64, device="cpu")
