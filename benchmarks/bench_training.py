"""Training throughput (samples/s) and peak memory per model, each model in a fresh process.

    python benchmarks/bench_training.py --data cache/mosi_native --modalities text_minilm audio vision \
        --models early_fusion late_fusion tfn lmf mult pmrl decalign --epochs 5 \
        --out benchmarks/results/training_mosi.json
    python benchmarks/bench_training.py --mosei-size --models early_fusion mult decalign --epochs 1 \
        --out benchmarks/results/training_mosei_size.json

``--mosei-size`` writes a memory-mapped native dataset of CMU-MOSEI's size (16,326 / 1,871 / 4,659
samples; text 50×768, audio 50×74, vision 50×35, as MMSA's unaligned_50) to a temporary folder
chunk by chunk and trains on it: peak memory stays far below the 2.9 GB the features take on disk.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MOSEI = {"sizes": {"train": 16326, "valid": 1871, "test": 4659}, "steps": 50,
         "dims": {"text": 768, "audio": 74, "vision": 35}}


class AnonymousMemoryPeak:
    """Samples ``RssAnon`` (process memory not backed by files) from /proc every 50 ms: memory-mapped
    feature pages are file-backed and reclaimable, so they count in the peak RSS but not here."""

    def __init__(self) -> None:
        import threading

        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


def _one(args: argparse.Namespace) -> None:
    """Child: train one model for ``--epochs`` epochs and print one JSON line."""
    import torch

    anon = AnonymousMemoryPeak()

    torch.set_num_threads(args.threads)
    from mmaffect import api

    bundle = api.load_data(args.data)
    start = time.perf_counter()
    overrides = [f"optim.max_epochs={args.epochs}", f"optim.patience={args.epochs + 1}", "optim.batch_size=64"]
    if args.modalities:
        overrides.append(f"data.modalities={json.dumps(args.modalities)}")
    with tempfile.TemporaryDirectory() as out:
        run = api.train(args.model, bundle, seeds=[1], overrides=overrides, out_dir=out)
    seed = run.seeds[0]
    print(json.dumps({"model": args.model, "epochs": seed.epochs, "train_seconds": seed.train_seconds,
                      "samples_per_second": seed.samples_per_second, "wall_seconds": time.perf_counter() - start,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "peak_anonymous_mb": anon.stop()}))


def write_mosei_sized(directory: Path, seed: int = 0) -> Path:
    """A native dataset of MOSEI's shape with random features, written chunk by chunk (never whole in memory)."""
    import numpy as np

    from mmaffect.data.native import commit_array, open_array_for_writing
    from mmaffect.types import TaskSpec

    rng = np.random.default_rng(seed)
    meta = {"format": "mmaffect-native", "version": 1, "name": "mosei_sized",
            "task": TaskSpec(kind="regression", metrics="msa", label_range=(-3, 3)).model_dump(),
            "modalities": {m: {"dim": d} for m, d in MOSEI["dims"].items()}, "splits": {}, "provenance": {},
            "checksums": {}}
    for split, n in MOSEI["sizes"].items():
        (directory / split).mkdir(parents=True)
        for m, d in MOSEI["dims"].items():
            arr = open_array_for_writing(directory / split / f"{m}.npy", (n, MOSEI["steps"], d))
            for start in range(0, n, 2048):
                stop = min(start + 2048, n)
                arr[start:stop] = rng.normal(size=(stop - start, MOSEI["steps"], d)).astype(np.float32)
            commit_array(directory / split / f"{m}.npy", arr)
            np.save(directory / split / f"{m}.lengths.npy", rng.integers(10, MOSEI["steps"] + 1, n).astype(np.int64))
        np.save(directory / split / "labels.npy", rng.uniform(-3, 3, n).astype(np.float32))
        (directory / split / "index.jsonl").write_text("".join(json.dumps({"id": f"{split}_{i}"}) + "\n" for i in range(n)))
        meta["splits"][split] = {"size": n, "steps": {m: MOSEI["steps"] for m in MOSEI["dims"]}}
    (directory / "dataset.json").write_text(json.dumps(meta))
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--modalities", nargs="+", default=None)
    parser.add_argument("--models", nargs="+", default=["early_fusion", "late_fusion", "tfn", "lmf", "mult"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mosei-size", action="store_true")
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model:
        return _one(args)
    with tempfile.TemporaryDirectory() as tmp:
        data = str(write_mosei_sized(Path(tmp) / "mosei")) if args.mosei_size else args.data
        if data is None:
            parser.error("--data or --mosei-size is required")
        rows = []
        for model in args.models:
            cmd = [sys.executable, __file__, "--model", model, "--data", data, "--epochs", str(args.epochs),
                   "--threads", str(args.threads), "--out", args.out]
            if args.modalities:
                cmd += ["--modalities", *args.modalities]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
            if proc.returncode != 0:
                raise SystemExit(f"{model} failed:\n{proc.stderr[-3000:]}")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]))
    from mmaffect.training.checkpoint import atomic_write_text
    from mmaffect.training.fit import describe_environment

    atomic_write_text(Path(args.out), json.dumps({"data": "mosei_sized" if args.mosei_size else args.data,
                                                  "modalities": args.modalities, "epochs": args.epochs,
                                                  "threads": args.threads, "environment": describe_environment(),
                                                  "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
