"""text_centric on MMSD: tweet alone vs tweet + image attribute words, top-K and uniformity ablations.

Prepare a native copy of MMSD with MiniLM token states (outside the repository)::

    python -c "from mmaffect.data.registry import load_dataset; from mmaffect.data.native import write_native; \
write_native(load_dataset('mmsd', data_root='../shared/data'), 'cache/mmsd_native')"
    mmaffect extract cache/mmsd_native --pooling tokens --max-tokens 48 --name tweet --field raw_text
    mmaffect extract cache/mmsd_native --pooling tokens --max-tokens 16 --name attrs --field attributes

Run rows (each row = ``mmaffect train --model <model> --data <data> --seeds ... --set <overrides>``), then
write the table::

    python benchmarks/text_centric_mmsd.py --data cache/mmsd_native --out cache/tc_runs --rows tweet_only tc_all_uni
    python benchmarks/text_centric_mmsd.py --out cache/tc_runs --table docs/benchmarks_text_centric_table.md

Scores on ``test`` at the best ``valid`` epoch: accuracy, F1 of the sarcastic class (as the MMSD
literature and the data README report it) and macro F1, mean ± std over seeds.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

import numpy as np

ROWS: dict[str, tuple[str, str, list[str]]] = {
    # name: (description, model, overrides)
    "tweet_only": ("tweet tokens only, K = all, no uniformity", "text_centric",
                   ["model.modalities=[tweet]", "model.top_k=null", "objectives.uniformity.weight=0.0"]),
    "unimodal_tweet": ("unimodal baseline on tweet tokens (mean pool -> MLP)", "unimodal",
                       ["model.modality=tweet", "model.hidden=256", "data.modalities=[tweet]",
                        "optim.batch_size=128", "optim.max_epochs=10", "optim.patience=3"]),
    "tc_all_uni": ("tweet + attributes, K = all, uniformity 0.1", "text_centric",
                   ["model.modalities=[tweet,attrs]", "model.top_k=null"]),
    "tc_all": ("tweet + attributes, K = all, no uniformity", "text_centric",
               ["model.modalities=[tweet,attrs]", "model.top_k=null", "objectives.uniformity.weight=0.0"]),
    "tc_16_uni": ("tweet + attributes, K = 16, uniformity 0.1", "text_centric",
                  ["model.modalities=[tweet,attrs]", "model.top_k=16"]),
    "tc_8_uni": ("tweet + attributes, K = 8, uniformity 0.1", "text_centric",
                 ["model.modalities=[tweet,attrs]", "model.top_k=8"]),
    "tc_16": ("tweet + attributes, K = 16, no uniformity", "text_centric",
              ["model.modalities=[tweet,attrs]", "model.top_k=16", "objectives.uniformity.weight=0.0"]),
    "tc_8": ("tweet + attributes, K = 8, no uniformity", "text_centric",
             ["model.modalities=[tweet,attrs]", "model.top_k=8", "objectives.uniformity.weight=0.0"]),
    "joint_all_uni": ("one sequence 'tweet [SEP] attributes' (joint), K = all, uniformity 0.1", "text_centric",
                      ["model.modalities=[joint]", "model.top_k=null"]),
    "joint_all": ("one sequence 'tweet [SEP] attributes' (joint), K = all, no uniformity", "text_centric",
                  ["model.modalities=[joint]", "model.top_k=null", "objectives.uniformity.weight=0.0"]),
    "joint_16": ("one sequence 'tweet [SEP] attributes' (joint), K = 16, no uniformity", "text_centric",
                 ["model.modalities=[joint]", "model.top_k=16", "objectives.uniformity.weight=0.0"]),
}


def command(model: str, data: str, seeds: list[int], overrides: list[str], out: Path) -> str:
    parts = ["mmaffect", "train", "--model", model, "--data", data, "--seeds", *map(str, seeds), "--out", str(out)]
    for o in overrides:
        parts += ["--set", o]
    return shlex.join(parts)


def positive_f1_rows(run_dir: Path, data: str) -> list[dict[str, float]]:
    """Per seed: test accuracy, F1 of class 1 and macro F1 from the saved best checkpoint."""
    from sklearn.metrics import accuracy_score, f1_score

    from mmaffect.api import load_data
    from mmaffect.training.checkpoint import load_checkpoint
    from mmaffect.evaluation.inference import predict_split

    bundle = load_data(data)
    rows = []
    for seed_dir in sorted(run_dir.glob("seed_*")):
        ckpt = load_checkpoint(seed_dir)
        result = predict_split(ckpt.predictor, bundle.with_modalities(ckpt.modalities).split("test"), ckpt.task)
        pred = result.scores.argmax(1)
        rows.append({"seed": int(seed_dir.name.split("_")[1]), "acc": accuracy_score(result.labels, pred),
                     "f1": f1_score(result.labels, pred, pos_label=1),
                     "macro_f1": f1_score(result.labels, pred, average="macro")})
    return rows


def run_row(name: str, data: str, seeds: list[int], out_root: Path) -> None:
    from mmaffect.api import train

    description, model, overrides = ROWS[name]
    out = out_root / name
    cmd = command(model, data, seeds, overrides, out)
    print(f"== {name}: {cmd}", flush=True)
    start = time.perf_counter()
    run = train(model, data, seeds=seeds, overrides=overrides, out_dir=out)
    seconds = time.perf_counter() - start
    per_seed = positive_f1_rows(out, data)
    epochs = [s.epochs for s in run.seeds] if run is not None else []
    record = {"name": name, "description": description, "command": cmd, "seconds": seconds, "epochs": epochs,
              "seeds": per_seed}
    (out / "row.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2), flush=True)


def table(out_root: Path) -> str:
    lines = ["| row | input | acc | F1 (sarcastic) | macro F1 | epochs run | wall time |", "|---|---|---|---|---|---|---|"]
    commands = []
    for name in ROWS:
        path = out_root / name / "row.json"
        if not path.is_file():
            continue
        rec = json.loads(path.read_text())
        stats = {k: np.array([s[k] for s in rec["seeds"]]) for k in ("acc", "f1", "macro_f1")}
        cell = lambda v: f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}"  # noqa: E731
        lines.append(f"| `{name}` | {rec['description']} | {cell(stats['acc'])} | {cell(stats['f1'])} | "
                     f"{cell(stats['macro_f1'])} | {', '.join(map(str, rec['epochs']))} | {rec['seconds'] / 60:.1f} min |")
        commands.append(f"# {name}\n{rec['command']}")
    return "\n".join(lines) + "\n\n```bash\n" + "\n".join(commands) + "\n```\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="cache/mmsd_native")
    parser.add_argument("--out", type=Path, default=Path("cache/tc_runs"))
    parser.add_argument("--rows", nargs="*", default=[], choices=list(ROWS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1111, 1112, 1113])
    parser.add_argument("--table", type=Path, default=None, help="write the Markdown table of finished rows here")
    args = parser.parse_args()
    for name in args.rows:
        run_row(name, args.data, args.seeds, args.out)
    if args.table is not None:
        args.table.write_text(table(args.out))
        print(args.table.read_text())


if __name__ == "__main__":
    main()
