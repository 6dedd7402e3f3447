"""Tests for the ``rd`` low-rank + sparse decomposition (``mmaffect.ops.decomposition``) and its
differentiable unrolled variant, against the per-sample NumPy reference in ``benchmarks/``."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mmaffect.models.unrolled_decomposition import UnrolledDecomposition, spectral_shrink
from mmaffect.ops import DecompositionResult, decompose
from mmaffect.ops.decomposition import nuclear_norm, objective, singular_value_threshold, soft_threshold

_REF_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "reference_decomposition.py"
_spec = importlib.util.spec_from_file_location("reference_decomposition", _REF_PATH)
assert _spec is not None and _spec.loader is not None
_ref_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ref_module)
reference_decompose_one = _ref_module.reference_decompose_one


Tensors3 = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def planted(b: int, m: int, n: int, c: int, rank: int, frac: float, seed: int) -> Tensors3:
    """``X_m = L + S_m``: rank-``rank`` L, each S_m with a fraction ``frac`` of large entries."""
    g = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    low = torch.randn(b, n, rank, generator=g, dtype=f64) @ torch.randn(b, rank, c, generator=g, dtype=f64)
    low = low / math.sqrt(rank)
    mask = torch.rand(b, m, n, c, generator=g, dtype=torch.float64) < frac
    big = 10.0 * (2 * torch.rand(b, m, n, c, generator=g, dtype=torch.float64) - 1)
    sparse = torch.where(mask, big, torch.zeros((), dtype=torch.float64))
    return low, sparse, low.unsqueeze(1) + sparse


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def run_reference(x: torch.Tensor, **kw: float) -> list[tuple[np.ndarray, np.ndarray, int, float]]:
    return [reference_decompose_one(x[i].numpy(), **kw) for i in range(x.shape[0])]  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# recovery and agreement with the reference


@pytest.mark.parametrize("rank,frac", [(2, 0.05), (3, 0.10)])
def test_fast_preset_recovers_planted_low_rank(rank: int, frac: float) -> None:
    low, sparse, x = planted(3, 2, 49, 64, rank, frac, seed=rank)
    res = decompose(x, preset="fast")
    assert isinstance(res, DecompositionResult)
    assert res.low_rank.shape == (3, 49, 64) and res.sparse.shape == (3, 2, 49, 64)
    assert bool(res.converged.all())
    for i in range(3):
        assert rel(res.low_rank[i], low[i]) < 1e-3
        assert rel(res.sparse[i], sparse[i]) < 1e-3


@pytest.mark.parametrize("n,c", [(12, 16), (16, 10)])  # left and right Gram matrix
def test_paper_preset_matches_reference(n: int, c: int) -> None:
    x = torch.randn(4, 2, n, c, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    max_iter = 1500
    res = decompose(x, preset="paper", max_iter=max_iter)
    refs = run_reference(x, lam=1.0, mu=10.0, max_iter=max_iter, tol=1e-6)
    iters = []
    for i, (low, sparse, it, residual) in enumerate(refs):
        np.testing.assert_allclose(res.low_rank[i].numpy(), low, rtol=0, atol=1e-9 * np.abs(low).max())
        np.testing.assert_allclose(res.sparse[i].numpy(), sparse, rtol=0, atol=1e-9 * np.abs(sparse).max())
        assert int(res.iterations[i]) == it
        assert bool(res.converged[i]) == (residual < 1e-6)
        assert float(res.residual[i]) == pytest.approx(residual, rel=1e-6)
        # never a worse objective than the reference
        ours = float(objective(res.low_rank[i : i + 1], res.sparse[i : i + 1], 1.0))
        theirs = float(objective(torch.from_numpy(low)[None], torch.from_numpy(sparse)[None], 1.0))
        assert ours <= theirs + 1e-9 * abs(theirs)
        iters.append(it)
    assert min(iters) < max_iter  # some samples converge, so stopping is exercised


def test_fast_preset_matches_reference() -> None:
    x = torch.randn(3, 2, 10, 14, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    res = decompose(x, preset="fast")
    for i in range(3):
        mu0 = 1.25 / max(np.linalg.norm(x[i, m].numpy(), 2) for m in range(2))
        low, sparse, it, _ = reference_decompose_one(x[i].numpy(), lam=1 / math.sqrt(14), mu=mu0, rho=1.5,
                                                     max_iter=500, tol=1e-7)
        np.testing.assert_allclose(res.low_rank[i].numpy(), low, atol=1e-9 * np.abs(low).max())
        assert int(res.iterations[i]) == it


def test_three_modalities() -> None:
    x = torch.randn(2, 3, 10, 12, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    res = decompose(x, preset="paper", max_iter=300)
    assert res.sparse.shape == (2, 3, 10, 12)
    for i, (low, sparse, it, _) in enumerate(run_reference(x, lam=1.0, mu=10.0, max_iter=300, tol=1e-6)):
        np.testing.assert_allclose(res.low_rank[i].numpy(), low, atol=1e-9 * np.abs(low).max())
        np.testing.assert_allclose(res.sparse[i].numpy(), sparse, atol=1e-9 * np.abs(sparse).max())
        assert int(res.iterations[i]) == it
    _, _, x3 = planted(2, 3, 30, 40, 2, 0.05, seed=9)
    assert bool(decompose(x3, preset="fast").converged.all())


def test_svd_and_eigh_agree() -> None:
    x = torch.randn(3, 2, 12, 9, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    a = decompose(x, preset="paper", max_iter=200, svt="eigh")
    b = decompose(x, preset="paper", max_iter=200, svt="svd")
    torch.testing.assert_close(a.low_rank, b.low_rank, rtol=0, atol=1e-10)
    assert torch.equal(a.iterations, b.iterations)


# --------------------------------------------------------------------------------------------------
# per-sample stopping, dtypes, options


def test_per_sample_stopping_matches_single_sample_runs() -> None:
    _, _, easy = planted(1, 2, 12, 16, 1, 0.05, seed=1)
    hard = torch.randn(1, 2, 12, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    batch = torch.cat([easy, hard, easy * 3.0])
    res = decompose(batch, preset="fast", max_iter=200)
    alone = [decompose(s, preset="fast", max_iter=200) for s in (easy, hard, easy * 3.0)]
    for i, r in enumerate(alone):
        assert int(res.iterations[i]) == int(r.iterations[0])
        torch.testing.assert_close(res.low_rank[i], r.low_rank[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(res.sparse[i], r.sparse[0], rtol=0, atol=1e-12)
    assert res.iterations[0] != res.iterations[1]  # the two samples really stop at different times


@pytest.mark.parametrize("threads", [1, 2])
def test_refilled_working_set_matches_single_sample_runs(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """A working set of 3 samples refilled from a queue of 11 (mixed easy and hard samples, one or two
    workers) gives each sample exactly what it gets alone."""
    from mmaffect.ops import decomposition as dec

    g = torch.Generator().manual_seed(5)
    _, _, easy = planted(6, 2, 12, 16, 1, 0.05, seed=3)
    hard = torch.randn(5, 2, 12, 16, generator=g, dtype=torch.float64)
    batch = torch.cat([easy, hard])[torch.randperm(11, generator=g)]
    monkeypatch.setattr(dec, "_CHUNK_BYTES", 3 * 3 * 2 * 12 * 16 * 8)  # working set of 3 samples
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        res = decompose(batch, preset="fast", max_iter=150)
    finally:
        torch.set_num_threads(previous)
    assert torch.get_num_threads() == previous
    assert len(set(res.iterations.tolist())) > 2  # samples really stop at different times
    for i in range(batch.shape[0]):
        alone = decompose(batch[i : i + 1], preset="fast", max_iter=150)
        assert int(res.iterations[i]) == int(alone.iterations[0])
        torch.testing.assert_close(res.low_rank[i], alone.low_rank[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(res.sparse[i], alone.sparse[0], rtol=0, atol=1e-12)
        assert float(res.residual[i]) == pytest.approx(float(alone.residual[0]), rel=1e-9)


def test_float32_and_float64() -> None:
    _, _, x = planted(2, 2, 20, 24, 2, 0.05, seed=7)
    r64 = decompose(x, preset="fast")
    r32 = decompose(x.float(), preset="fast", tol=1e-6)
    assert r64.low_rank.dtype == torch.float64 and r32.low_rank.dtype == torch.float32
    assert r32.sparse.dtype == torch.float32 and r32.residual.dtype == torch.float32
    assert rel(r32.low_rank.double(), r64.low_rank) < 1e-4
    r = decompose(x.float(), preset="fast", dtype=torch.float64)
    assert r.low_rank.dtype == torch.float64
    assert r.iterations.dtype == torch.int64 and r.converged.dtype == torch.bool


def test_svt_compat_uses_one_over_mu() -> None:
    x = torch.randn(2, 2, 10, 12, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    exact = decompose(x, preset="paper", max_iter=150)
    compat = decompose(x, preset="paper", max_iter=150, svt_compat=True)
    assert rel(compat.low_rank, exact.low_rank) > 1e-3
    for i in range(2):
        low, _, it, _ = reference_decompose_one(x[i].numpy(), lam=1.0, mu=10.0, max_iter=150, tol=1e-6, svt_compat=True)
        np.testing.assert_allclose(compat.low_rank[i].numpy(), low, atol=1e-9 * np.abs(low).max())
        assert int(compat.iterations[i]) == it
    # over-shrinking: the compatible threshold leaves a smaller nuclear norm
    assert float(nuclear_norm(compat.low_rank).sum()) < float(nuclear_norm(exact.low_rank).sum())


def test_explicit_arguments_override_preset_and_max_iter_stops() -> None:
    x = torch.randn(2, 2, 8, 9, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    res = decompose(x, preset="paper", max_iter=5)
    assert res.iterations.tolist() == [5, 5]
    assert not bool(res.converged.any())
    assert bool((res.residual >= 1e-6).all())
    a = decompose(x, preset="fast", lam=0.3, mu=0.5, rho=1.2, max_iter=60)
    for i in range(2):
        low, _, it, _ = reference_decompose_one(x[i].numpy(), lam=0.3, mu=0.5, rho=1.2, max_iter=60, tol=1e-7)
        np.testing.assert_allclose(a.low_rank[i].numpy(), low, atol=1e-9 * np.abs(low).max())
        assert int(a.iterations[i]) == it


def test_zero_input_converges_at_once() -> None:
    res = decompose(torch.zeros(1, 2, 5, 6), preset="paper")
    assert int(res.iterations[0]) == 1 and bool(res.converged[0])
    assert float(res.low_rank.abs().max()) == 0.0


@pytest.mark.parametrize(
    "x,match",
    [
        (torch.zeros(2, 5, 6), r"\(2, 5, 6\)"),
        (torch.zeros(2, 1, 5, 6), r"M >= 2.*\(2, 1, 5, 6\)"),
        (torch.full((1, 2, 3, 3), float("nan")), r"\(1, 2, 3, 3\).*non-finite"),
        (torch.tensor([[[[1.0, float("inf")]], [[0.0, 0.0]]]]), "non-finite"),
        (torch.zeros(0, 2, 3, 3), "empty"),
        (torch.zeros(1, 2, 3, 3, dtype=torch.complex64), "real floating"),
    ],
)
def test_bad_input_raises(x: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decompose(x)


def test_bad_options_raise() -> None:
    x = torch.zeros(1, 2, 3, 3)
    with pytest.raises(ValueError, match="preset"):
        decompose(x, preset="nope")
    with pytest.raises(ValueError, match="dtype"):
        decompose(x, dtype=torch.float16)
    with pytest.raises(ValueError, match="lam"):
        decompose(x, lam=-1.0)
    with pytest.raises(ValueError, match="svt"):
        decompose(x, svt="qr")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        decompose(np.zeros((1, 2, 3, 3)))  # type: ignore[arg-type]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    x = torch.randn(4, 2, 12, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    cpu = decompose(x, preset="paper", max_iter=200)
    gpu = decompose(x.cuda(), preset="paper", max_iter=200)
    torch.testing.assert_close(gpu.low_rank.cpu(), cpu.low_rank, rtol=0, atol=1e-9)
    assert torch.equal(gpu.iterations.cpu(), cpu.iterations)


# --------------------------------------------------------------------------------------------------
# helpers


def test_helpers_match_numpy() -> None:
    a = torch.randn(3, 6, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(soft_threshold(a, 0.5), torch.sign(a) * torch.clamp(a.abs() - 0.5, min=0))
    u, s, vt = np.linalg.svd(a[0].numpy(), full_matrices=False)
    expected_svt = (u * np.maximum(s - 0.7, 0)) @ vt
    np.testing.assert_allclose(singular_value_threshold(a[0], 0.7).numpy(), expected_svt, atol=1e-12)
    taus = torch.tensor([0.1, 0.5, 100.0], dtype=torch.float64)
    out = singular_value_threshold(a, taus)
    assert float(out[2].abs().max()) == 0.0
    np.testing.assert_allclose(nuclear_norm(a[0]).item(), s.sum(), rtol=1e-12)
    sp = torch.randn(3, 2, 6, 8, dtype=torch.float64)
    expected = nuclear_norm(a) + 0.3 * sp.abs().sum(dim=(1, 2, 3))
    torch.testing.assert_close(objective(a, sp, 0.3), expected)


# --------------------------------------------------------------------------------------------------
# unrolled, differentiable variant


def test_spectral_shrink_gradcheck_and_repeated_singular_values() -> None:
    a = torch.randn(2, 4, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g = (a @ a.mT).requires_grad_()
    tau = torch.tensor([0.3, 0.8], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda g, t: spectral_shrink(0.5 * (g + g.mT), t), (g, tau))
    # all singular values equal: eigh's own backward would divide by zero
    x = torch.zeros(2, 2, 6, 8)
    x[:, :, :, :6] = torch.eye(6)
    x.requires_grad_()
    module = UnrolledDecomposition(4)
    low, sparse = module(x)
    (low.square().sum() + sparse.abs().sum()).backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in module.parameters())


def test_unrolled_module_trains() -> None:
    low, _, x = planted(6, 2, 16, 20, 2, 0.05, seed=11)
    x, low = x.float(), low.float()
    module = UnrolledDecomposition(6, lam_init=0.5, mu_init=0.3)
    opt = torch.optim.Adam(module.parameters(), lr=0.05)
    losses = []
    for _ in range(15):
        est, sparse = module(x)
        assert est.shape == (6, 16, 20) and sparse.shape == (6, 2, 16, 20)
        loss = (est - low).square().sum() / low.square().sum()
        opt.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in module.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert bool((module.lam > 0).all()) and bool((module.mu > 0).all())
    with pytest.raises(ValueError, match="M >= 2"):
        module(torch.zeros(1, 1, 4, 4))


# --------------------------------------------------------------------------------------------------
# the throughput benchmark script (tiny sizes: it runs, and its batched rows agree with its reference)


def test_decomposition_benchmark_script_runs_and_agrees(tmp_path: Path) -> None:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_decomposition.py"
    spec = importlib.util.spec_from_file_location("bench_decomposition", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "dec.json"
    tiny = ["--n", "6", "--c", "8", "--ref-pairs", "2", "--naive-max-batch", "2"]
    assert bench.main([*tiny, "--batch-sizes", "1", "3", "--presets", "fast", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    methods = [r["method"] for r in rows]
    assert methods.count("batched") == 2 and "reference" in methods and "reference_default_threads" in methods
    for r in rows:
        if r["method"] == "batched":
            assert r["iterations_match_reference"] and r["max_rel_err_L_vs_reference"] < 1e-9
    assert "| 8 | fast | batched | 3 |" in out.with_suffix(".md").read_text()
    assert bench.main([*tiny, "--ablation", "--ablation-batch", "4", "--ablation-iters", "3",
                       "--out", str(tmp_path / "abl.json")]) == 0
    cases = json.loads((tmp_path / "abl.json").read_text())["ablation"]
    assert len(cases) == 9 and all(c.get("us_per_pair_iteration", 1.0) > 0 for c in cases)
