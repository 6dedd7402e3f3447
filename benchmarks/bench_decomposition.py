"""Throughput of :func:`mmaffect.ops.decomposition.decompose` (DESIGN §8), beside the per-sample loop.

For n = 49 tokens, c ∈ {64, 256} channels, M = 2 Gaussian token matrices per pair (CLIP-like), the
presets ``paper`` and ``fast`` and batch sizes 1..1024, measures pairs per second and mean iterations
per pair of

- ``batched``: ``decompose`` (this package),
- ``reference``: the straightforward per-sample NumPy loop of the same algorithm
  (``benchmarks/reference_decomposition.py``, one ``np.linalg.svd`` per iteration), on a few pairs
  only, timed with NumPy's default BLAS threads and limited to one BLAS thread,
- ``naive_svd``: the same iteration written directly in batched torch (``torch.linalg.svd`` on the
  whole batch every iteration, converged samples masked, one intra-op thread), on small batches only,

all in the same process, and the agreement of ``batched`` with ``reference`` on the shared pairs.
Speed-ups are per pair-iteration (like for like: same algorithm, same iterations). ``--ablation``
times the individual implementation choices instead. Results: JSON + a Markdown table, written
atomically (temporary file, then rename).

    python benchmarks/bench_decomposition.py --device cpu
    python benchmarks/bench_decomposition.py --ablation      # what each implementation choice buys
    python benchmarks/bench_decomposition.py --refill        # refilled working set vs chunks
    python benchmarks/bench_decomposition.py --kernels       # eigh routes and the products of one iteration
    python benchmarks/bench_decomposition.py --tts           # time to solution, accurate preset (DESIGN §8)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
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

from mmaffect.ops import decomposition as D  # noqa: E402

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - optional
    threadpool_limits = None


# --------------------------------------------------------------------------------------------------
# the settings of one preset, resolved exactly as decompose resolves them


def settings(preset: str, n: int, c: int) -> dict[str, Any]:
    p = D.PRESETS[preset]
    return {
        "lam": float(p["lam"]) if p["lam"] is not None else 1.0 / math.sqrt(max(n, c)),
        "mu": p["mu"],
        "rho": float(p["rho"]),
        "max_iter": int(p["max_iter"]),
        "tol": float(p["tol"]),
    }


def reference(x: np.ndarray, s: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, int, float]:
    mu = s["mu"] if s["mu"] is not None else 1.25 / max(np.linalg.norm(x[m], 2) for m in range(x.shape[0]))
    return reference_decompose_one(x, lam=s["lam"], mu=float(mu), rho=s["rho"], max_iter=s["max_iter"], tol=s["tol"])


def naive_svd(x: torch.Tensor, s: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """The iteration written directly in batched torch: full-batch SVD, converged samples masked."""
    b, m = x.shape[:2]
    if s["mu"] is not None:
        mu = torch.full((b,), float(s["mu"]), dtype=torch.float64)
    else:
        mu = 1.25 / torch.linalg.matrix_norm(x, ord=2).amax(dim=1)
    mu = mu.to(x.dtype).view(b, 1, 1, 1)
    low = torch.zeros_like(x[:, 0])
    sparse = torch.zeros_like(x)
    dual = torch.zeros_like(x)
    x_norm = torch.linalg.vector_norm(x, dim=(-2, -1))
    active = torch.ones(b, dtype=torch.bool)
    iters = torch.zeros(b, dtype=torch.int64)
    for _ in range(s["max_iter"]):
        new_sparse = D.soft_threshold(x - low.unsqueeze(1) + dual / mu, s["lam"] / mu)
        a = (x - new_sparse + dual / mu).mean(dim=1)
        new_low = D.singular_value_threshold(a, 1.0 / (m * mu.view(b)))
        r = x - new_low.unsqueeze(1) - new_sparse
        new_dual = dual + mu * r
        act = active.view(b, 1, 1, 1)
        sparse = torch.where(act, new_sparse, sparse)
        low = torch.where(act.view(b, 1, 1), new_low, low)
        dual = torch.where(act, new_dual, dual)
        iters += active.long()
        residual = (torch.linalg.vector_norm(r, dim=(-2, -1)) / x_norm).amax(dim=1)
        mu = torch.where(act, torch.clamp(mu * s["rho"], max=1e7), mu)
        active &= ~(residual < s["tol"])
        if not bool(active.any()):
            break
    return low, iters


# --------------------------------------------------------------------------------------------------
# timing helpers


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn: Any, device: str) -> tuple[float, Any]:
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


def make_inputs(batch: int, m: int, n: int, c: int, seed: int, dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, m, n, c, generator=g, dtype=torch.float64).to(dtype)


def run_reference(x: torch.Tensor, s: dict[str, Any], blas_threads: int | None = 1) -> dict[str, Any]:
    """The per-sample NumPy loop on ``x``; ``blas_threads=None`` leaves NumPy's BLAS at its default."""
    xs = x.to(torch.float64).numpy()
    limit = threadpool_limits(blas_threads) if threadpool_limits is not None and blas_threads else None
    with limit if limit is not None else contextlib.nullcontext():
        t0 = time.perf_counter()
        outs = [reference(xs[i], s) for i in range(xs.shape[0])]
        dt = time.perf_counter() - t0
    iters = [o[2] for o in outs]
    return {"seconds": dt, "pairs": len(outs), "iters": iters, "low": [o[0] for o in outs]}


# --------------------------------------------------------------------------------------------------
# main table


def bench(args: argparse.Namespace) -> dict[str, Any]:
    device, dtype = args.device, getattr(torch, args.dtype)
    rows: list[dict[str, Any]] = []
    for c in args.c:
        for preset in args.presets:
            s = settings(preset, args.n, c)
            x_all = make_inputs(max(args.batch_sizes), args.m, args.n, c, args.seed, dtype)
            # the loop as written (NumPy's default BLAS threads), then tuned to one BLAS thread
            ref_default = run_reference(x_all[: args.ref_pairs], s, blas_threads=None)
            ref = run_reference(x_all[: args.ref_pairs], s, blas_threads=1)
            ref_default_pi = ref_default["seconds"] / sum(ref_default["iters"])
            ref_pi = ref["seconds"] / sum(ref["iters"])
            rows.append(row(c, preset, "reference_default_threads", ref_default["pairs"], ref_default["seconds"],
                            ref_default["iters"], ref_pi, ref_default_pi))
            print(fmt(rows[-1]), flush=True)
            rows.append(row(c, preset, "reference", ref["pairs"], ref["seconds"], ref["iters"], ref_pi,
                            ref_default_pi))
            print(fmt(rows[-1]), flush=True)
            spent = 0.0
            for batch in sorted(args.batch_sizes):
                x = x_all[:batch].to(device)
                est = batch * ref_pi * float(np.mean(ref["iters"])) / max(args.expected_speedup, 1e-9)
                if spent + est > args.budget_s:
                    rows.append({"c": c, "preset": preset, "method": "batched", "batch": batch,
                                 "skipped": f"over the {args.budget_s:.0f} s budget for this configuration"})
                    print(f"c={c} {preset} batched B={batch}: skipped (budget)", flush=True)
                    continue
                dt, res = timed(lambda: D.decompose(x, preset=preset, dtype=dtype), device)
                spent += dt
                it = res.iterations.cpu().tolist()
                r = row(c, preset, "batched", batch, dt, it, ref_pi, ref_default_pi)
                k = min(batch, ref["pairs"])
                low = res.low_rank.cpu().to(torch.float64).numpy()
                r["max_rel_err_L_vs_reference"] = max(
                    float(np.abs(low[i] - ref["low"][i]).max() / max(np.abs(ref["low"][i]).max(), 1e-300))
                    for i in range(k))
                r["iterations_match_reference"] = all(it[i] == ref["iters"][i] for i in range(k))
                rows.append(r)
                print(fmt(r), flush=True)
                # the adaptive budget learns the real speed-up from the first measurements
                args.expected_speedup = max(1.0, ref_pi / (dt / max(1, sum(it))))
            for batch in sorted(b for b in args.batch_sizes if b <= args.naive_max_batch):
                x = x_all[:batch].to(device)
                threads = torch.get_num_threads()
                torch.set_num_threads(1)  # its best setting on a small shared CPU (see --ablation)
                try:
                    dt, (low, it) = timed(lambda: naive_svd(x, s), device)
                finally:
                    torch.set_num_threads(threads)
                rows.append(row(c, preset, "naive_svd", batch, dt, it.cpu().tolist(), ref_pi, ref_default_pi))
                print(fmt(rows[-1]), flush=True)
    return {"rows": rows}


def row(c: int, preset: str, method: str, batch: int, seconds: float, iters: list[int],
        ref_pi: float, ref_default_pi: float) -> dict[str, Any]:
    total = max(1, int(sum(iters)))
    per_pi = seconds / total
    return {
        "c": c, "preset": preset, "method": method, "batch": batch, "seconds": seconds,
        "pairs_per_s": batch / seconds, "mean_iterations": total / batch,
        "us_per_pair_iteration": per_pi * 1e6, "speedup_vs_reference": ref_pi / per_pi,
        "speedup_vs_reference_default_threads": ref_default_pi / per_pi,
    }


def fmt(r: dict[str, Any]) -> str:
    return (f"c={r['c']} {r['preset']:5s} {r['method']:9s} B={r['batch']:5d}  {r['pairs_per_s']:9.2f} pairs/s  "
            f"{r['mean_iterations']:7.1f} it/pair  {r['us_per_pair_iteration']:8.1f} us/pair-it  "
            f"x{r['speedup_vs_reference']:.2f} (1 BLAS thread)  x{r['speedup_vs_reference_default_threads']:.2f} "
            "(default threads)")


# --------------------------------------------------------------------------------------------------
# ablation: what each implementation choice buys (fixed iteration count, same work everywhere)


def ablation(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    threads = torch.get_num_threads()
    chunk_bytes = D._CHUNK_BYTES
    for c in args.c:
        s = settings("paper", args.n, c)
        iters = args.ablation_iters
        fixed = dict(s, max_iter=iters, tol=1e-300)
        x = make_inputs(args.ablation_batch, args.m, args.n, c, args.seed, torch.float64)

        def ours(svt: str, x: torch.Tensor = x) -> Any:
            return D.decompose(x, preset="paper", max_iter=iters, tol=1e-300, svt=svt)

        cases: list[tuple[str, Any, int, int]] = [
            ("reference: per-sample NumPy loop (np.linalg.svd, 1 BLAS thread)", None, 1, 0),
            ("naive batched torch (svd, masked), default threads", lambda: naive_svd(x, fixed), threads, 0),
            ("naive batched torch (svd, masked), 1 thread", lambda: naive_svd(x, fixed), 1, 0),
            ("fused in-place iteration, svd, whole batch as working set, 1 thread", lambda: ours("svd"), 1, 1 << 40),
            ("fused, Gram eigh SVT, whole batch as working set, 1 thread", lambda: ours("eigh"), 1, 1 << 40),
            ("fused, Gram eigh SVT, whole batch, default intra-op threads", "intra", threads, 1 << 40),
            ("fused, Gram eigh SVT, cache-sized working set, 1 thread", lambda: ours("eigh"), 1, chunk_bytes),
            (f"fused, Gram eigh SVT, cache-sized working set, {threads} balanced single-threaded workers", lambda: ours("eigh"), threads,
             chunk_bytes),
        ]
        base = None
        for name, fn, nthreads, cb in cases:
            if fn is None:
                k = min(args.ref_pairs, x.shape[0])
                ref = run_reference(x[:k], fixed)
                per = ref["seconds"] / sum(ref["iters"])
                base = per
            elif fn == "intra":
                per = time_intra(x, iters, nthreads)
            else:
                torch.set_num_threads(nthreads)
                D._CHUNK_BYTES = cb
                try:
                    dt, _ = timed(fn, "cpu")
                finally:
                    torch.set_num_threads(threads)
                    D._CHUNK_BYTES = chunk_bytes
                per = dt / (x.shape[0] * iters)
            rows.append({"c": c, "case": name, "us_per_pair_iteration": per * 1e6, "speedup_vs_reference": base / per})
            print(f"c={c}  {name:70s} {per * 1e6:9.1f} us/pair-it  x{base / per:.2f}", flush=True)
        # early stopping and compaction: sample-iterations actually computed at natural convergence
        xs = x[: min(x.shape[0], args.naive_max_batch_compaction)]
        res = D.decompose(xs, preset="paper")
        it_naive = int(res.iterations.max())  # a masked, never compacted batch runs the slowest sample's count
        rows.append({"c": c, "case": "per-sample freezing + compaction (paper preset, natural convergence)",
                     "sample_iterations_masked_batch": int(it_naive) * xs.shape[0],
                     "sample_iterations_compacted": int(res.iterations.sum()),
                     "work_ratio": int(it_naive) * xs.shape[0] / int(res.iterations.sum())})
        print(f"c={c}  compaction: masked batch computes {int(it_naive) * xs.shape[0]} sample-iterations, "
              f"compacted {int(res.iterations.sum())}", flush=True)
    return {"ablation": rows}


def refill(args: argparse.Namespace) -> dict[str, Any]:
    """Paper preset at natural convergence, one thread, c = the first ``--c``: two working sets' worth of
    pairs solved with the working set refilled from the queue, vs each working set run until its slowest
    pair stops."""
    c = args.c[0]
    threads = torch.get_num_threads()
    working = max(1, D._CHUNK_BYTES // (3 * args.m * args.n * c * 8))
    x = make_inputs(2 * working, args.m, args.n, c, args.seed + 1, torch.float64)
    torch.set_num_threads(1)
    try:
        refilled, res = timed(lambda: D.decompose(x, preset="paper"), "cpu")
        chunked, _ = timed(lambda: [D.decompose(x[i : i + working], preset="paper")
                                    for i in range(0, x.shape[0], working)], "cpu")
    finally:
        torch.set_num_threads(threads)
    its = res.iterations
    print(f"c={c}  refill: {refilled:.1f} s refilled vs {chunked:.1f} s chunks run to completion "
          f"({x.shape[0]} pairs, {int(its.min())}-{int(its.max())} iterations)", flush=True)
    return {"refill": [{"c": c, "pairs": x.shape[0], "working_set": working, "min_iterations": int(its.min()),
                        "max_iterations": int(its.max()), "seconds_refilled": refilled, "seconds_chunks": chunked}]}


# --------------------------------------------------------------------------------------------------
# kernels: the cost of the pieces of one iteration, and of the eigendecomposition routes


def kernels(args: argparse.Namespace) -> dict[str, Any]:
    """Microseconds per matrix, one thread, a batch of 256: the eigendecomposition routes on Gram matrices
    with 35 of 49 eigenvalues above the paper preset's τ² = 0.0025, and the batched products of the SVT."""
    import scipy.linalg
    import scipy.linalg.lapack as lapack

    b, n = 256, args.n
    g = torch.Generator().manual_seed(args.seed)
    q = torch.linalg.qr(torch.randn(b, n, n, dtype=torch.float64, generator=g))[0]
    above = n - 14
    lam = torch.cat([torch.rand(b, above, dtype=torch.float64, generator=g) * 200 + 0.5,
                     torch.rand(b, n - above, dtype=torch.float64, generator=g) * 1e-3], dim=1)
    gram = (q * lam.unsqueeze(1)) @ q.mT
    gram = (gram + gram.mT) / 2
    gram_np, gram32 = gram.numpy(), gram.float()

    def per_matrix(fn: Any, reps: int = 3) -> float:
        fn()
        best = min(timed(fn, "cpu")[0] for _ in range(reps))
        return best / b * 1e6

    def each(fn: Any) -> Any:
        return lambda: [fn(gram_np[i]) for i in range(b)]

    cases: list[tuple[str, Any]] = [
        ("torch.linalg.eigh float64 (MKL syevd)", lambda: torch.linalg.eigh(gram)),
        ("torch.linalg.eigh float32", lambda: torch.linalg.eigh(gram32)),
        ("torch.linalg.eigvalsh float64 (eigenvalues only)", lambda: torch.linalg.eigvalsh(gram)),
        ("np.linalg.eigh (OpenBLAS)", lambda: np.linalg.eigh(gram_np)),
        *[(f"scipy.linalg.eigh driver={d}", each(lambda a, d=d: scipy.linalg.eigh(a, driver=d, check_finite=False)))
          for d in ("evd", "evr", "ev")],
        ("LAPACK dsyevr, eigenvectors above τ² only",
         each(lambda a: lapack.dsyevr(a, range="V", vl=0.0025, vu=1e300, compute_v=1))),
        ("LAPACK dsyevx, eigenvectors above τ² only",
         each(lambda a: lapack.dsyevx(a, range="V", vl=0.0025, vu=1e300, compute_v=1))),
    ]
    for c in args.c:
        a = torch.randn(b, n, c, dtype=torch.float64, generator=g)
        p = torch.randn(b, n, n, dtype=torch.float64, generator=g)
        cases += [(f"Gram A Aᵀ, A {n}×{c} (bmm)", lambda a=a: torch.bmm(a, a.mT)),
                  (f"product P A, P {n}×{n}, A {n}×{c} (bmm)", lambda a=a, p=p: torch.bmm(p, a))]
    rows = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    limit = threadpool_limits(1) if threadpool_limits is not None else contextlib.nullcontext()
    try:
        with limit:
            for name, fn in cases:
                us = per_matrix(fn)
                rows.append({"case": name, "us_per_matrix": us})
                print(f"{name:60s} {us:8.1f} us", flush=True)
    finally:
        torch.set_num_threads(threads)
    return {"kernels": rows}


def time_intra(x: torch.Tensor, iters: int, nthreads: int) -> float:
    """One chunk solved in the calling thread with ``nthreads`` intra-op threads."""
    b, m, n, c = x.shape
    out = D.DecompositionResult(torch.empty(b, n, c, dtype=x.dtype), torch.empty_like(x),
                                torch.empty(b, dtype=torch.int64), torch.empty(b, dtype=x.dtype),
                                torch.empty(b, dtype=torch.bool))
    threads = torch.get_num_threads()
    torch.set_num_threads(nthreads)
    try:
        t0 = time.perf_counter()
        D._solve(x, torch.full((b,), 10.0, dtype=torch.float64), out, working=b, lam=1.0, rho=1.0, mu_max=1e7,
                 max_iter=iters, tol=1e-300, compat=False, method="eigh")
        dt = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    return dt / (b * iters)


# --------------------------------------------------------------------------------------------------
# output


def environment(args: argparse.Namespace) -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    env = {
        "device": args.device, "cpu": cpu, "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "numpy": np.__version__, "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
        "load_average_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    if args.device == "cuda":
        env["gpu"] = torch.cuda.get_device_name()
    return env


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    lines = [
        f"# Decomposition throughput ({env['device']})",
        "",
        f"{env['cpu']} ({env['cpu_count']} cores), torch {env['torch']}, numpy {env['numpy']}, "
        f"{env['torch_threads']} torch threads; load average at start/end "
        f"{env.get('load_average_start')} / {env.get('load_average_end')} (a shared machine: timings are noisy).",
        f"n = {result['args']['n']}, M = {result['args']['m']}, Gaussian inputs, dtype {result['args']['dtype']}. "
        "Speed-up = reference seconds per pair-iteration / method seconds per pair-iteration (same algorithm, "
        "same iterations); `reference` = per-sample NumPy loop with np.linalg.svd limited to 1 BLAS thread "
        "(its fastest setting), `reference_default_threads` = the same loop with NumPy's default BLAS threads "
        "(the loop as written).",
        "",
    ]
    if "rows" in result:
        lines += ["| c | preset | method | batch | pairs/s | mean it/pair | µs/pair-it | speed-up vs 1-thread loop "
                  "| speed-up vs default-threads loop | max rel err L vs ref | same iterations |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in result["rows"]:
            if "skipped" in r:
                lines.append(f"| {r['c']} | {r['preset']} | {r['method']} | {r['batch']} "
                             f"| skipped: {r['skipped']} | | | | | | |")
                continue
            err = r.get("max_rel_err_L_vs_reference")
            lines.append(
                f"| {r['c']} | {r['preset']} | {r['method']} | {r['batch']} | {r['pairs_per_s']:.2f} | "
                f"{r['mean_iterations']:.1f} | {r['us_per_pair_iteration']:.1f} | {r['speedup_vs_reference']:.2f}× | "
                f"{r['speedup_vs_reference_default_threads']:.2f}× | "
                f"{'' if err is None else f'{err:.1e}'} | {r.get('iterations_match_reference', '')} |")
    if "ablation" in result:
        lines += ["", "## Ablation (paper preset, fixed iteration count)", "",
                  "| c | case | µs/pair-it | speed-up |", "|---|---|---|---|"]
        for r in result["ablation"]:
            if "work_ratio" in r:
                lines.append(f"| {r['c']} | {r['case']} | masked {r['sample_iterations_masked_batch']} vs "
                             f"compacted {r['sample_iterations_compacted']} sample-iterations "
                             f"| {r['work_ratio']:.2f}× less work |")
            else:
                lines.append(f"| {r['c']} | {r['case']} | {r['us_per_pair_iteration']:.1f} "
                             f"| {r['speedup_vs_reference']:.2f}× |")
    if "refill" in result:
        lines += ["", "## Refilled working set vs chunks run to completion (paper preset, 1 thread)", "",
                  "| c | pairs | iterations | working set | refilled s | chunks s |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['c']} | {r['pairs']} | {r['min_iterations']}–{r['max_iterations']} | {r['working_set']} "
                  f"| {r['seconds_refilled']:.1f} | {r['seconds_chunks']:.1f} |" for r in result["refill"]]
    if "kernels" in result:
        lines += ["", "## Kernels (one thread, batch of 256, µs per matrix)", "", "| case | µs |", "|---|---|"]
        lines += [f"| {r['case']} | {r['us_per_matrix']:.1f} |" for r in result["kernels"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 64, 256, 1024])
    p.add_argument("--c", type=int, nargs="+", default=[64, 256])
    p.add_argument("--n", type=int, default=49)
    p.add_argument("--m", type=int, default=2)
    p.add_argument("--presets", nargs="+", choices=sorted(D.PRESETS), default=["paper", "fast"])
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--ref-pairs", type=int, default=3, help="pairs run through the per-sample NumPy loop")
    p.add_argument("--naive-max-batch", type=int, default=8, help="largest batch for the naive batched-svd variant")
    p.add_argument("--budget-s", type=float, default=90.0,
                   help="seconds per (c, preset) for the batched runs; larger batches that would not fit are skipped")
    p.add_argument("--expected-speedup", type=float, default=2.0, help="initial guess for the budget estimate")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads before running")
    p.add_argument("--ablation", action="store_true", help="time each implementation choice instead")
    p.add_argument("--refill", action="store_true",
                   help="time the refilled working set against chunks run to completion instead")
    p.add_argument("--kernels", action="store_true",
                   help="time the eigendecomposition routes and the batched products of one iteration instead")
    p.add_argument("--ablation-batch", type=int, default=32)
    p.add_argument("--ablation-iters", type=int, default=60)
    p.add_argument("--naive-max-batch-compaction", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--tts", action="store_true",
                   help="time to solution of the accurate preset vs the paper loop (decomposition_tts.py)")
    p.add_argument("--kinds", nargs="+", default=["random", "planted", "tokens"])
    p.add_argument("--m-values", type=int, nargs="+", default=[2, 3])
    p.add_argument("--pairs", type=int, default=32, help="--tts: pairs per configuration with a reference (accuracy)")
    p.add_argument("--timed-batch", type=int, default=256,
                   help="--tts: pairs per timed batch (256, the batch of mmaffect decompose)")
    p.add_argument("--tokens", type=Path, default=None, help="--tts: token matrices [N, M, 49, c] (.pt)")
    p.add_argument("--ref-iter", type=int, default=5000,
                   help="--tts: iteration cap of the high-precision reference solve (its certified gap is reported)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but torch.cuda.is_available() is False")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.tts:
        from decomposition_tts import run_tts

        run_tts(args)
        return 0
    mode = next((m for m in ("ablation", "refill", "kernels") if getattr(args, m)), None)
    default_name = f"decomposition_{args.device}" + (f"_{mode}" if mode else "")
    out = args.out or Path(__file__).resolve().parent / "results" / f"{default_name}.json"
    result: dict[str, Any] = {"environment": environment(args), "args": {k: (str(v) if isinstance(v, Path) else v)
                                                                          for k, v in vars(args).items()}}
    result.update({"ablation": ablation, "refill": refill, "kernels": kernels}.get(mode, bench)(args))
    result["environment"]["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    write_atomic(out, json.dumps(result, indent=2) + "\n")
    write_atomic(out.with_suffix(".md"), markdown(result))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
