"""Shorter sequences for the attention models on RAVDESS: mean-pool a stored modality over windows of ``k`` steps.

``y_j = (1 / |W_j|) Σ_{t ∈ W_j} x_t`` with ``W_j = [j·k, (j + 1)·k) ∩ [0, length)``; the new length is
``⌈length / k⌉``. Whisper frames (50/s) with ``k = 10`` give 5 steps per second, eGeMAPS descriptors
(100/s) with ``k = 20`` the same rate, so MulT and DecAlign see ~25 steps instead of 251 / 501
(their cross-modal attention costs ``T_a · T_b``).

    python benchmarks/ravdess_pool.py ../cache/ravdess audio_whisper:10 audio_egemaps:20

adds ``audio_whisper_p10`` and ``audio_egemaps_p20`` to the native dataset (``add_modality``; atomic).
A modality that already exists is left as it is.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from mmaffect.data.native import add_modality


def pool_windows(x: np.ndarray, lengths: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``[N, T, D]`` with valid prefix ``lengths`` -> window means ``[N, ⌈T/k⌉, D]`` and ``⌈lengths/k⌉``."""
    n, t, d = x.shape
    steps = -(-t // k)
    out = np.zeros((n, steps, d), dtype=np.float32)
    new_lengths = -(-lengths.astype(np.int64) // k)
    for i in range(n):
        length = int(lengths[i])
        for j in range(int(new_lengths[i])):
            out[i, j] = x[i, j * k:min((j + 1) * k, length)].mean(0)
    return out, new_lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("specs", nargs="+", help="modality:k, e.g. audio_whisper:10")
    args = parser.parse_args()
    meta = json.loads((args.dataset / "dataset.json").read_text())
    for spec in args.specs:
        name, _, k_text = spec.partition(":")
        k = int(k_text)
        new_name = f"{name}_p{k}"
        if new_name in meta["modalities"]:
            print(f"{new_name}: exists")
            continue
        arrays, lengths = {}, {}
        for split in meta["splits"]:
            x = np.load(args.dataset / split / f"{name}.npy", mmap_mode="r")
            lens = np.load(args.dataset / split / f"{name}.lengths.npy")
            arrays[split], lengths[split] = pool_windows(x, lens, k)
        add_modality(args.dataset, new_name, arrays, lengths)
        meta = json.loads((args.dataset / "dataset.json").read_text())
        print(f"{new_name}: " + ", ".join(f"{s} {a.shape}" for s, a in arrays.items()))


if __name__ == "__main__":
    main()
