"""Per cell of a RAVDESS benchmark folder: train / valid / test accuracy at the chosen epoch, the chosen
epochs and the training seconds of the seeds, next to the test table (the evidence of the generalisation gap).

    python benchmarks/ravdess_summary.py ../cache/rv_bench/ravdess benchmarks/results/ravdess_clip.md

Writes the markdown table to the given file and the numbers as JSON next to it (``.json``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def cell_summary(cell: Path) -> dict:
    """Mean ± std over the seeds of ``cell`` (folders ``seed_*`` with ``metrics.json``)."""
    seeds = [json.loads(p.read_text()) for p in sorted(cell.glob("seed_*/metrics.json"))]
    out: dict = {"cell": cell.name, "seeds": len(seeds)}
    for split in ("train", "valid", "test"):
        acc = np.array([s["metrics"][split]["acc"] for s in seeds])
        out[f"{split}_acc"] = [float(acc.mean()), float(acc.std(ddof=1)) if len(acc) > 1 else 0.0]
    f1 = np.array([s["metrics"]["test"]["macro_f1"] for s in seeds])
    out["test_macro_f1"] = [float(f1.mean()), float(f1.std(ddof=1)) if len(f1) > 1 else 0.0]
    out["best_epochs"] = [int(s["best_epoch"]) for s in seeds]
    out["train_seconds"] = float(sum(s["train_seconds"] for s in seeds))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    rows = [cell_summary(c) for c in sorted(args.folder.iterdir()) if any(c.glob("seed_*/metrics.json"))]
    lines = ["| cell | train acc | valid acc | test acc | test macro-F1 | best epochs | train s (all seeds) |",
             "|---|---|---|---|---|---|---|"]
    fmt = "{:.3f} ± {:.3f}".format
    for r in rows:
        lines.append(f"| {r['cell']} | {fmt(*r['train_acc'])} | {fmt(*r['valid_acc'])} | {fmt(*r['test_acc'])} | "
                     f"{fmt(*r['test_macro_f1'])} | {r['best_epochs']} | {r['train_seconds']:.0f} |")
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
