"""Wall time of the README's main job (`mmaffect train`, default model and data) with and without a
competing CPU-bound process, for several thread settings.

    python benchmarks/bench_contention.py --out benchmarks/results/contention.json

The competitor is a pure-Python busy loop in a separate process per core it should occupy
(``--competitors``, default 1: "another CPU-bound job running"). Each setting runs ``--repeats`` times;
the table reports the median wall time. The thread setting is passed as ``--threads`` (``default``
means no option: the package's own choice, with OMP/MKL variables removed from the environment).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _burn(stop: mp.Event) -> None:
    x = 0
    while not stop.is_set():
        for i in range(200_000):
            x = (x * 31 + i) % 1_000_003


def _run_train(threads: str, workdir: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MMAFFECT_THREADS")}
    cmd = [sys.executable, "-m", "mmaffect.cli", "train", "--out", str(workdir / f"run_{time.time_ns()}")]
    if threads != "default":
        cmd += ["--threads", threads]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", nargs="+", default=["default", "2"])
    parser.add_argument("--competitors", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/contention.json")
    parser.add_argument("--loaded-only", action="store_true", help="skip the runs without a competitor")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for loaded in ((True,) if args.loaded_only else (False, True)):
            stop = mp.Event()
            burners = [mp.Process(target=_burn, args=(stop,), daemon=True) for _ in range(args.competitors if loaded else 0)]
            for p in burners:
                p.start()
            try:
                for threads in args.threads:
                    times = [_run_train(threads, Path(tmp)) for _ in range(args.repeats)]
                    row = {"competing_processes": len(burners), "threads": threads,
                           "median_s": round(statistics.median(times), 2), "runs_s": [round(t, 2) for t in times]}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
            finally:
                stop.set()
                for p in burners:
                    p.join(timeout=5)
    result = {"command": "mmaffect train (default model, synthetic data, 3 seeds)", "rows": rows,
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
              "load_before": os.getloadavg()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
