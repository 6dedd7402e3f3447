"""Time to solution of the ``rd`` decomposition (DESIGN §8): the paper's problem (λ = 1) solved at least
as close to its optimum as the paper's algorithm, against that algorithm's per-sample NumPy loop
(μ = 10 fixed, tol 1e-6, one BLAS thread) in the same process.

For c ∈ {64, 256}, M ∈ {2, 3}, inputs ``random`` (Gaussian), ``planted`` (rank-3 L plus 10 % entries
of ±U(0, 3) per modality) and ``tokens`` (real token matrices from a ``.pt`` file ``[N, M, 49, c]`` or a dict ``{"c64": .., "c256": ..}``
written by ``benchmarks/make_decomposition_tokens.py``, ``--tokens``; skipped when absent or when it
has fewer than M modalities), reports seconds per pair on a batch of ``--timed-batch`` pairs (256, the
batch of ``mmaffect decompose``) and on the ``--pairs`` accuracy pairs alone and, per sample, the distance of L to a
high-precision optimum (``accurate`` at tol 1e-11, duality gap 1e-13) and the relative objective gap
``(P(L) − P*)/P*`` with ``P(L) = ||L||_* + λ Σ_m ||X_m − L||_1``. ``--device cuda`` also times the
spectral kernels (Gram ``eigh`` vs ``svd`` drivers) per shape. Writes JSON + Markdown atomically.

    python benchmarks/bench_decomposition.py --tts [--device cuda] [--tokens cache/rd_tokens.pt]
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from reference_decomposition import reference_decompose_one  # noqa: E402

from mmaffect.ops import decompose  # noqa: E402
from mmaffect.ops.decomposition_accurate import ACCURATE_DEFAULTS, solve_accurate  # noqa: E402

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - optional
    threadpool_limits = None


def make(kind: str, b: int, m: int, n: int, c: int, seed: int, tokens: Path | None) -> torch.Tensor | None:
    g = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    if kind == "random":
        return torch.randn(b, m, n, c, generator=g, dtype=f64)
    if kind == "planted":
        low = torch.randn(b, n, 3, generator=g, dtype=f64) @ torch.randn(b, 3, c, generator=g, dtype=f64)
        mask = torch.rand(b, m, n, c, generator=g, dtype=f64) < 0.1
        big = 3.0 * (2 * torch.rand(b, m, n, c, generator=g, dtype=f64) - 1)
        return low.unsqueeze(1) / math.sqrt(3) + torch.where(mask, big, torch.zeros((), dtype=f64))
    if tokens is None or not tokens.exists():
        return None
    loaded = torch.load(tokens, weights_only=True)
    if isinstance(loaded, dict):  # benchmarks/make_decomposition_tokens.py: {"c64": ..., "c256": ...}
        loaded = loaded.get(f"c{c}")
        if loaded is None:
            return None
    x = loaded.to(f64)
    if x.shape[1] < m or x.shape[-1] != c:
        return None
    idx = torch.randperm(x.shape[0], generator=g)[:b]
    return x[idx, :m].contiguous()


def p_of(x: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svdvals(low).sum(-1) + (x - low.unsqueeze(1)).abs().sum(dim=(-3, -2, -1))


def quality(x: torch.Tensor, low: torch.Tensor, opt: torch.Tensor) -> tuple[list[float], list[float]]:
    dist = (torch.linalg.vector_norm(low - opt, dim=(-2, -1)) / torch.linalg.vector_norm(opt, dim=(-2, -1)))
    p_opt = p_of(x, opt)
    return dist.tolist(), ((p_of(x, low) - p_opt) / p_opt).tolist()


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(x: torch.Tensor, device: str, repeats: int = 2) -> tuple[float, Any]:
    """Wall seconds per pair of ``decompose(x, preset="accurate")``, the best of ``repeats`` runs (after a
    2-pair warm-up): on a shared machine the minimum is the least disturbed run."""
    xd = x.to(device)
    decompose(xd[:2], preset="accurate")
    sync(device)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = decompose(xd, preset="accurate")
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best / x.shape[0], res


def one_config(kind: str, m: int, c: int, args: Any) -> dict[str, Any] | None:
    batch = make(kind, max(args.pairs, args.timed_batch), m, args.n, c, args.seed, args.tokens)
    if batch is None:
        return None
    x = batch[: args.pairs]  # the pairs with a reference (the first of them also run through the loop)
    # reference: KKT residuals 1e-11 and gap 1e-13 together (no gap-only stop), at most --ref-iter iterations
    ref = solve_accurate(x, dict(ACCURATE_DEFAULTS, tol=1e-11, gap_tol=1e-13, max_iter=args.ref_iter,
                                 gap_alone=0, late_gap_factor=0.0))
    opt = ref["low_rank"]
    k = args.ref_pairs
    # a second reference on the loop pairs, by a different path (larger first step, α = 1.5, the stalled-sample
    # switch at a larger fixed step): its distance to the first is how far the optimum is resolved. In the
    # degenerate M = 2 cases both converge sublinearly, toward the same L (measured: 8000 iterations bring
    # them 1.4e-5 apart at objectives 3e-9 apart, down from 5e-5 at 2000), so the optimum is one point
    # there and distances below this spread are not resolved.
    ref2 = solve_accurate(x[:k], dict(ACCURATE_DEFAULTS, tol=1e-11, gap_tol=1e-13, max_iter=args.ref_iter,
                                      gap_alone=0, late_gap_factor=0.0, step=4.0, alpha=1.5,
                                      stall_step=0.5))
    spread, spread_gap = quality(x[:k], ref2["low_rank"], opt[:k])
    limit = threadpool_limits(1) if threadpool_limits is not None else contextlib.nullcontext()
    with limit:  # the best of two runs, like the accurate timing
        loop_s = math.inf
        for _ in range(2):
            t0 = time.perf_counter()
            refs = [reference_decompose_one(x[i].numpy(), lam=1.0, mu=10.0, max_iter=3000, tol=1e-6) for i in range(k)]
            loop_s = min(loop_s, (time.perf_counter() - t0) / k)
    paper_low = torch.stack([torch.from_numpy(r[0]) for r in refs])
    d_p, g_p = quality(x[:k], paper_low, opt[:k])
    row: dict[str, Any] = {"kind": kind, "m": m, "c": c, "pairs": args.pairs, "loop_s_per_pair": loop_s,
                           "loop_iters": [r[2] for r in refs], "paper_dist": d_p, "paper_gap": g_p,
                           "reference_gap": ref["gap"].tolist(), "reference_converged": bool(ref["converged"].all()),
                           "reference_spread": spread, "reference_spread_gap": spread_gap}
    # timed on the decompose job's batch (--timed-batch, 256 by default), whose first rows are the accuracy
    # pairs, and on the accuracy pairs alone
    small_s, _ = timed(x, args.device)
    acc_s, big = timed(batch, args.device)
    first = slice(0, args.pairs)
    d_a, g_a = quality(x, big.low_rank[first].cpu(), opt)
    row.update(timed_batch=batch.shape[0], accurate_s_per_pair=acc_s, speedup=loop_s / acc_s,
               small_batch_s_per_pair=small_s, small_batch_speedup=loop_s / small_s,
               timed_batch_iters=[int(big.iterations.min()), int(big.iterations.max())],
               accurate_iters=big.iterations[first].tolist(),
               accurate_converged=bool(big.converged[first].all()), accurate_dist=d_a, accurate_gap=g_a,
               accurate_beats_paper=all(d_a[i] <= d_p[i] and g_a[i] <= max(g_p[i], 1e-12) for i in range(k)),
               dist_wins=sum(d_a[i] <= d_p[i] for i in range(k)),
               dist_wins_resolved=sum(d_a[i] <= d_p[i] + spread[i] for i in range(k)),
               gap_wins=sum(g_a[i] <= max(g_p[i], 1e-12) for i in range(k)), loop_pairs=k,
               accurate_gap_certified=big.gap[first].cpu().tolist() if big.gap is not None else [])
    fast = decompose(x, preset="fast", lam=1.0)
    row["fast_lam1_dist"], row["fast_lam1_gap"] = quality(x, fast.low_rank, opt)
    return row


def spectral_kernels(device: str, n: int, cs: list[int], batch: int) -> list[dict[str, Any]]:
    """Seconds per matrix of the SVT's spectral step on ``device``: Gram ``eigh`` vs ``svd`` drivers."""
    rows = []
    for c in cs:
        for dtype in (torch.float32, torch.float64):
            a = torch.randn(batch, n, c, device=device, dtype=dtype)
            routes: dict[str, Any] = {"gram_eigh": lambda a=a: torch.linalg.eigh(a @ a.mT),
                                      "svd_default": lambda a=a: torch.linalg.svd(a, full_matrices=False)}
            if device == "cuda":
                for drv in ("gesvd", "gesvdj", "gesvda"):
                    routes[f"svd_{drv}"] = lambda a=a, drv=drv: torch.linalg.svd(a, full_matrices=False, driver=drv)
            for name, fn in routes.items():
                try:
                    fn()
                    sync(device)
                    t0 = time.perf_counter()
                    for _ in range(5):
                        fn()
                    sync(device)
                    rows.append({"c": c, "dtype": str(dtype), "route": name,
                                 "us_per_matrix": (time.perf_counter() - t0) / 5 / batch * 1e6})
                except RuntimeError as exc:  # a driver missing for this shape or build
                    rows.append({"c": c, "dtype": str(dtype), "route": name, "error": str(exc)[:120]})
    return rows


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    lines = [f"# Decomposition time to solution ({env['device']}, {env['threads']} threads, load {env['load']})", "",
             "| input | M | c | loop s/pair (paper, 1 thread) | loop its | accurate s/pair (batch) | speed-up"
             " | speed-up, batch of the accuracy pairs | accurate its"
             " | dist L: paper / accurate (max) | objective gap: paper / accurate (max) | reference spread (max) | fast λ=1 dist"
             " | accurate ≥ paper: dist / dist±spread / gap (pairs) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(
            f"| {r['kind']} | {r['m']} | {r['c']} | {r['loop_s_per_pair']:.3f} | {min(r['loop_iters'])}–{max(r['loop_iters'])} "
            f"| {r['accurate_s_per_pair']:.4f} ({r['timed_batch']}) | **{r['speedup']:.0f}×** "
            f"| {r['small_batch_speedup']:.0f}× ({r['pairs']}) | {r['timed_batch_iters'][0]}–{r['timed_batch_iters'][1]} "
            f"| {max(r['paper_dist']):.1e} / {max(r['accurate_dist']):.1e} | {max(r['paper_gap']):.1e} / {max(r['accurate_gap']):.1e} "
            f"| {max(r['reference_spread']):.0e} | {max(r['fast_lam1_dist']):.2f} "
            f"| {r['dist_wins']}/{r['loop_pairs']} / {r['dist_wins_resolved']}/{r['loop_pairs']} / {r['gap_wins']}/{r['loop_pairs']} |")
    if result.get("kernels"):
        lines += ["", "| c | dtype | route | µs per matrix |", "|---|---|---|---|"]
        for k in result["kernels"]:
            lines.append(f"| {k['c']} | {k['dtype']} | {k['route']} | {k.get('us_per_matrix', k.get('error'))} |")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def run_tts(args: Any) -> dict[str, Any]:
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for c in args.c:
        for m in args.m_values:
            for kind in args.kinds:
                r = one_config(kind, m, c, args)
                if r is None:
                    print(f"skip {kind} M={m} c={c}: no such matrices in {args.tokens} (absent, or fewer than M modalities)")
                    continue
                rows.append(r)
                print(f"{kind} M={m} c={c}: loop {r['loop_s_per_pair']:.3f} s/pair, accurate "
                      f"{r['accurate_s_per_pair']:.4f} s/pair ({r['speedup']:.0f}x), beats paper: {r['accurate_beats_paper']}",
                      flush=True)
    kernels = spectral_kernels(args.device, args.n, args.c, 256) if args.device == "cuda" else []
    env = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
           "threads": torch.get_num_threads(), "load": os.getloadavg()[0], "torch": torch.__version__}
    result = {"environment": env, "rows": rows, "kernels": kernels}
    out = args.out or Path(__file__).resolve().parent / "results" / f"decomposition_tts_{args.device}"
    write_atomic(out.with_suffix(".json"), json.dumps(result, indent=1))
    write_atomic(out.with_suffix(".md"), markdown(result))
    print(markdown(result))
    return result


def np_float(v: Any) -> float:  # pragma: no cover - helper for interactive use
    return float(np.asarray(v))
