"""RAVDESS speech emotion with the Whisper-base encoder's frames, mean-pooled (and mean+std), and eGeMAPS
functionals: logistic regression, C chosen on valid accuracy, scored on test (8 classes).

    python benchmarks/ravdess_whisper_probe.py ../shared/data/ravdess --window clip

References (issue 13, Whisper's padded window presumably): Whisper mean 0.733 / 0.724 (accuracy /
macro-F1), mean+std 0.742 / 0.732, eGeMAPS functionals 0.492 / 0.466, eGeMAPS + Whisper mean 0.758 / 0.755.
Results: ``benchmarks/results/ravdess_whisper_probe_<window>.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from linear_probe import linear_probe

_STATE: dict = {}


def _init(window: str) -> None:
    from mmaffect.encoders.egemaps import EgemapsEncoder
    from mmaffect.encoders.whisper import WhisperEncoder
    from mmaffect.runtime import configure_threads

    configure_threads(1)
    _STATE["whisper"], _STATE["egemaps"] = WhisperEncoder(threads=1, window=window), EgemapsEncoder()


def _features(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from mmaffect.encoders.audio import load_audio

    samples = load_audio(path).samples
    frames = _STATE["whisper"].encode(samples)
    return frames.mean(0), frames.std(0), _STATE["egemaps"].functionals(samples)


def probe(x: dict, y: dict) -> dict:
    """The shared linear probe (C on valid) on the clip features."""
    return linear_probe(x, y, c_grid=(0.001, 0.01, 0.1, 1.0, 10.0))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ravdess", type=Path)
    parser.add_argument("--window", choices=("clip", "padded"), default="clip")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from mmaffect.io import atomic_write_json

    rows = list(csv.DictReader(open(args.ravdess / "manifest.csv", newline="")))
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(args.window,)) as pool:
        feats = list(pool.map(_features, [str(args.ravdess / r["audio"]) for r in rows], chunksize=8))
    mean, std, egemaps = (np.stack(f) for f in zip(*feats))
    split = np.array([r["split"] for r in rows])
    labels = np.array([r["label"] for r in rows])
    parts = ("train", "valid", "test")
    y = {s: labels[split == s] for s in parts}
    result: dict = {"window": args.window, "clips": len(rows),
                    "command": "python benchmarks/ravdess_whisper_probe.py " + " ".join(sys.argv[1:])}
    for name, matrix in (("whisper_mean", mean), ("whisper_mean_std", np.hstack([mean, std])),
                         ("egemaps_functionals", egemaps), ("egemaps_whisper_mean", np.hstack([egemaps, mean]))):
        result[name] = probe({s: matrix[split == s] for s in parts}, y)
        print(name, result[name], flush=True)
    atomic_write_json(args.out or Path(f"benchmarks/results/ravdess_whisper_probe_{args.window}.json"), result, indent=2)
    return result


if __name__ == "__main__":
    main()
