"""What the parts of the ``accurate`` decomposition buy (docs/benchmarks.md, "Time to solution").

1. Variants, 16 pairs per cell at c = 64 and 256, mean iterations and CPU seconds per pair (one
   thread). M = 2 (``tokens`` from ``--tokens``, ``random``, ``planted``): the default; without Anderson
   acceleration (``anderson=0``) and with it forced at every size (by default it is used up to
   n·c ≤ 4096); Anderson memory 10 instead of 5; every uncertified sample switched to the fixed step at
   40 or at 20 iterations (``stall_rate=0``; by default a sample whose gap still falls 10× per two
   checks keeps the residual balancing); the fixed step at 0.5, 2 and 4 times the mean box width
   instead of 1 (``stall_step``); float32 phases of 10 and 30 iterations instead of 20; the polished
   dual point tried at M = 2 too (``polish_from_m=2``, float32 phase still 20: its cost per
   iteration). M = 3 (``random``, ``planted``): the default; without the polished dual point
   (``polish_from_m=4``, the float32 phase kept at 10); with the 20-iteration float32 phase of M = 2
   (``float32_iter_polished=20``).
2. The optimum's structure on 4 pairs per kind (c = 64): a tight solve (KKT residuals 1e-12, gap 1e-14,
   at most 3000 iterations) and its rank (singular values above 1e-6 σ_1), the ratio of the last
   kept singular value to the next one, iterations and certified gap.

    OMP_NUM_THREADS=1 python benchmarks/decomposition_accurate_ablation.py --tokens cache/rd_tokens.pt
    # -> benchmarks/results/decomposition_accurate_ablation.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from decomposition_tts import make, write_atomic  # noqa: E402

from mmaffect.ops.decomposition_accurate import ACCURATE_DEFAULTS, solve_accurate  # noqa: E402

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "no Anderson": {"anderson": 0},
    "Anderson at every size": {"anderson_max_entries": 10**9},
    "Anderson memory 10": {"anderson": 10},
    "fixed step at 40 whatever the rate": {"stall_rate": 0.0},
    "fixed step at 20 whatever the rate": {"stall_rate": 0.0, "stall_iter": 20},
    "fixed step 0.5× box width": {"stall_step": 0.5},
    "fixed step 2× box width": {"stall_step": 2.0},
    "fixed step 4× box width": {"stall_step": 4.0},
    "float32 phase of 10": {"float32_iter": 10},
    "float32 phase of 30": {"float32_iter": 30},
    # (tried from M = 2 on, with the float32 phase kept at M = 2's 20 iterations)
    "polished dual at M = 2": {"polish_from_m": 2, "float32_iter_polished": 20},
}
VARIANTS_M3: dict[str, dict[str, Any]] = {
    "default": {},
    "no polished dual": {"polish_from_m": 4, "float32_iter": 10},  # the same 10-iteration float32 phase
    "float32 phase of 20": {"float32_iter_polished": 20},
}


def variant_rows(tokens: Path | None, pairs: int) -> list[dict[str, Any]]:
    rows = []
    cells = [(kind, 2, VARIANTS) for kind in ("tokens", "random", "planted")]
    cells += [(kind, 3, VARIANTS_M3) for kind in ("random", "planted")]
    for c in (64, 256):
        for kind, m, variants in cells:
            x = make(kind, pairs, m, 49, c, 0, tokens)
            if x is None:
                continue
            for name, opts in variants.items():
                start = time.process_time()
                res = solve_accurate(x, dict(ACCURATE_DEFAULTS, **opts))
                cpu = (time.process_time() - start) / pairs
                its = res["iterations"].double()
                rows.append({"kind": kind, "m": m, "c": c, "variant": name, "mean_iterations": float(its.mean()),
                             "cpu_s_per_pair": cpu, "ms_per_iteration": 1e3 * cpu / float(its.mean()),
                             "max_gap": float(res["gap"].max())})
                print(rows[-1], flush=True)
    return rows


def structure_rows(tokens: Path | None, pairs: int) -> list[dict[str, Any]]:
    rows = []
    tight = dict(ACCURATE_DEFAULTS, tol=1e-12, gap_tol=1e-14, max_iter=3000, gap_alone=0, late_gap_factor=0.0)
    for kind in ("tokens", "planted"):
        x = make(kind, pairs, 2, 49, 64, 0, tokens)
        if x is None:
            continue
        res = solve_accurate(x, tight)
        sig = torch.linalg.svdvals(res["low_rank"])
        for i in range(pairs):
            rank = int((sig[i] > 1e-6 * sig[i, 0]).sum())
            jump = float(sig[i, rank - 1] / sig[i, rank].clamp_min(1e-300)) if rank < sig.shape[1] else float("inf")
            rows.append({"kind": kind, "pair": i, "rank": rank, "last_kept_over_next": jump,
                         "iterations": int(res["iterations"][i]), "gap": float(res["gap"][i])})
            print(rows[-1], flush=True)
    return rows


def markdown(result: dict[str, Any]) -> str:
    lines = ["# `accurate` decomposition: what its parts buy (one thread, CPU seconds)", "",
             "| input | M | c | variant | mean its | CPU s/pair | ms/iteration | max certified gap |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["variants"]:
        lines.append(f"| {r['kind']} | {r['m']} | {r['c']} | {r['variant']} | {r['mean_iterations']:.1f} | {r['cpu_s_per_pair']:.4f} "
                     f"| {r['ms_per_iteration']:.2f} | {r['max_gap']:.1e} |")
    lines += ["", "| input (c = 64) | pair | rank | σ_r / σ_(r+1) | iterations | certified gap |", "|---|---|---|---|---|---|"]
    for r in result["structure"]:
        lines.append(f"| {r['kind']} | {r['pair']} | {r['rank']} | {r['last_kept_over_next']:.1e} | {r['iterations']} "
                     f"| {r['gap']:.1e} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", type=Path, default=None, help="token pairs from make_decomposition_tokens.py")
    p.add_argument("--pairs", type=int, default=16)
    p.add_argument("--structure-pairs", type=int, default=4)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "decomposition_accurate_ablation")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    result = {"environment": {"load": os.getloadavg()[0], "torch": torch.__version__},
              "variants": variant_rows(args.tokens, args.pairs),
              "structure": structure_rows(args.tokens, args.structure_pairs)}
    write_atomic(args.out.with_suffix(".json"), json.dumps(result, indent=1))
    write_atomic(args.out.with_suffix(".md"), markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
