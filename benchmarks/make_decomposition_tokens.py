"""Real token matrices for the decomposition time-to-solution benchmark (``--tts --tokens FILE``).

From a native MMSD with MiniLM token states ``tweet`` ``[N, 48, 384]`` and ``attrs`` ``[N, 16, 384]``
(see ``benchmarks/rd_mmsd.py``), a seeded sample of ``--count`` pairs of one split is brought to
``[49, c]`` exactly as ``mmaffect decompose`` does (:func:`mmaffect.ops.token_matrix.to_token_matrix`:
groups of 384/c dimensions averaged to ``c`` columns, real rows repeated to 49) and saved, outside the
repository, as ``{"c64": [count, 2, 49, 64], "c256": [count, 2, 49, 256]}`` (float32)::

    python benchmarks/make_decomposition_tokens.py --data cache/mmsd_native --out cache/rd_tokens.pt
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mmaffect.io import atomic_write_bytes  # noqa: E402
from mmaffect.ops.token_matrix import to_token_matrix  # noqa: E402


def load_split(data: Path, split: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    feats, lens = data / split / f"{name}.npy", data / split / f"{name}.lengths.npy"
    for path in (feats, lens):
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; --data must be a native dataset with modality {name!r}")
    return np.load(feats, mmap_mode="r"), np.load(lens)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True, help="native MMSD folder with tweet and attrs")
    p.add_argument("--split", default="test")
    p.add_argument("--modalities", nargs="+", default=["tweet", "attrs"])
    p.add_argument("--count", type=int, default=256)
    p.add_argument("--columns", type=int, nargs="+", default=[64, 256])
    p.add_argument("--rows", type=int, default=49)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    arrays = [load_split(args.data, args.split, m) for m in args.modalities]
    n = min(a.shape[0] for a, _ in arrays)
    pick = np.sort(np.random.default_rng(args.seed).permutation(n)[: min(args.count, n)])
    out = {}
    for c in args.columns:
        mats = [to_token_matrix(torch.from_numpy(np.asarray(f[pick], dtype=np.float32)),
                                torch.from_numpy(np.asarray(lens[pick], dtype=np.int64)), args.rows, c, "repeat")
                for f, lens in arrays]
        out[f"c{c}"] = torch.stack(mats, dim=1).contiguous()
        print(f"c={c}: {tuple(out[f'c{c}'].shape)}")
    buf = io.BytesIO()
    torch.save(out, buf)
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
