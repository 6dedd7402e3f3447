r"""``rd`` on MMSD: tweet + image attribute words as two MiniLM token matrices, against the tweet alone
and against early fusion of the same encoders (the ablation of the fused matrix R).

Prepare (outside the repository): a native MMSD with MiniLM token states ``tweet`` ``[N, 48, 384]`` and
``attrs`` ``[N, 16, 384]`` (see ``benchmarks/text_centric_mmsd.py``), then the decomposition::

    mmaffect decompose cache/rd_mmsd --modalities tweet attrs --rows 49 --columns 64  # preset accurate

Train the rows (``mmaffect train`` per row, 3 seeds), then the table and the attention analysis::

    python benchmarks/rd_mmsd.py train --data cache/rd_mmsd --out cache/rd_runs \
        --rows rd_mlp early_fusion text_only
    python benchmarks/rd_mmsd.py analyse --data cache/rd_mmsd --out cache/rd_runs \
        --rows rd_mlp early_fusion text_only --json cache/rd_runs/analysis.json

Scores on ``test`` at the best ``valid`` epoch: accuracy, F1 of the sarcastic class and macro F1.

Attention by agreement. Each side gets a unimodal logistic regression on its mean-pooled (over real
tokens) MiniLM token states, standardised, with C chosen on valid accuracy from {0.01, 0.1, 1, 10};
a test sample is *agreeing* when both sides predict the same class and *conflicting* otherwise. For
each group we report the mean attention ``α = (α_L, α_S_tweet, α_S_attrs)`` of the ``rd`` checkpoints
(averaged over seeds), a Welch t of the conflict − agree difference, and the accuracy of every row.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
from pathlib import Path

import numpy as np

COMMON = ["optim.batch_size=128", "optim.max_epochs=10", "optim.patience=3"]
ROWS: dict[str, tuple[str, str, list[str]]] = {
    # name: (description, model, overrides)
    "rd_mlp": ("rd: tweet + attributes, decomposition precomputed, shared scorer, mlp head", "rd",
               ["model.modalities=[tweet,attrs]", "model.decomposition=precomputed",
                "data.modalities=[tweet,attrs,rd_low_rank,rd_sparse_tweet,rd_sparse_attrs]", *COMMON]),
    "rd_mlp_separate": ("rd with separate scorers (official code)", "rd",
                        ["model.modalities=[tweet,attrs]", "model.decomposition=precomputed",
                         "model.separate_scorers=true",
                         "data.modalities=[tweet,attrs,rd_low_rank,rd_sparse_tweet,rd_sparse_attrs]", *COMMON]),
    "early_fusion": ("early fusion: tweet + attributes, the same per-modality encoders as rd, no R", "early_fusion",
                     ["model.hidden=128", "data.modalities=[tweet,attrs]", "data.standardize=false", *COMMON]),
    "text_only": ("text only: tweet tokens, mean pool -> MLP (unimodal)", "unimodal",
                  ["model.modality=tweet", "model.hidden=128", "data.modalities=[tweet]", *COMMON]),
}
SEEDS = [1111, 1112, 1113]


def command(model: str, data: str, seeds: list[int], overrides: list[str], out: Path) -> list[str]:
    parts = ["mmaffect", "train", "--model", model, "--data", data, "--seeds", *map(str, seeds), "--out", str(out)]
    for o in overrides:
        parts += ["--set", o]
    return parts


def scores(labels: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {"acc": float(accuracy_score(labels, pred)), "f1": float(f1_score(labels, pred, pos_label=1)),
            "macro_f1": float(f1_score(labels, pred, average="macro"))}


def test_predictions(run_dir: Path, bundle) -> list[dict]:
    """Per seed: test predictions (and attention when the model reports it) of the best checkpoint."""
    from mmaffect.training.checkpoint import load_checkpoint
    from mmaffect.evaluation.inference import predict_split

    out = []
    for seed_dir in sorted(run_dir.glob("seed_*")):
        ckpt = load_checkpoint(seed_dir)
        result = predict_split(ckpt.predictor, bundle.with_modalities(ckpt.modalities).split("test"), ckpt.task,
                               keep_pooled=True)
        out.append({"seed": int(seed_dir.name.split("_")[1]), "pred": result.scores.argmax(1),
                    "labels": result.labels, "attention": result.diagnostics.get("attention")})
    return out


def pooled(split, modality: str, chunk: int = 2048) -> np.ndarray:
    """Mean of the real token states ``[N, D]``."""
    x, lengths = split.features[modality], np.asarray(split.lengths[modality])
    rows = []
    for start in range(0, len(lengths), chunk):
        block = np.asarray(x[start:start + chunk], dtype=np.float64)
        mask = np.arange(block.shape[1])[None, :] < lengths[start:start + chunk, None]
        rows.append((block * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1))
    return np.concatenate(rows)


def unimodal_predictions(bundle, modality: str) -> tuple[np.ndarray, dict]:
    """Test predictions of a logistic regression on one side (C chosen on valid accuracy)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    feats = {s: pooled(bundle.split(s), modality) for s in ("train", "valid", "test")}
    labels = {s: np.asarray(bundle.split(s).labels) for s in feats}
    scaler = StandardScaler().fit(feats["train"])
    feats = {s: scaler.transform(v) for s, v in feats.items()}
    best = None
    for c in (0.01, 0.1, 1.0, 10.0):
        clf = LogisticRegression(C=c, max_iter=2000).fit(feats["train"], labels["train"])
        acc = float((clf.predict(feats["valid"]) == labels["valid"]).mean())
        if best is None or acc > best[0]:
            best = (acc, c, clf)
    acc, c, clf = best
    pred = clf.predict(feats["test"])
    return pred, {"C": c, "valid_acc": acc, **scores(labels["test"], pred)}


def summarise(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {k: {"mean": float(np.mean([r[k] for r in rows])), "std": float(np.std([r[k] for r in rows]))}
            for k in rows[0]}


def analyse(data: str, out: Path, names: list[str]) -> dict:
    from mmaffect.api import load_data

    bundle = load_data(data)
    report: dict = {"rows": {}}
    preds = {}
    for name in names:
        run = out / name
        if not run.is_dir():
            continue
        preds[name] = test_predictions(run, bundle)
        per_seed = [{"seed": p["seed"], **scores(p["labels"], p["pred"])} for p in preds[name]]
        report["rows"][name] = {"description": ROWS[name][0], "per_seed": per_seed,
                                "summary": summarise([{k: v for k, v in r.items() if k != "seed"} for r in per_seed])}
    labels = np.asarray(bundle.split("test").labels)
    tweet_pred, tweet_info = unimodal_predictions(bundle, "tweet")
    attrs_pred, attrs_info = unimodal_predictions(bundle, "attrs")
    agree = tweet_pred == attrs_pred
    report["logistic_regression"] = {"tweet": tweet_info, "attrs": attrs_info,
                                     "agree_fraction": float(agree.mean())}
    groups = {"all": np.ones_like(agree), "agree": agree, "conflict": ~agree}
    attention = {}
    for name in names:
        if name not in preds:
            continue
        for group, sel in groups.items():
            entry = attention.setdefault(group, {"n": int(sel.sum())})
            entry[f"{name}_acc"] = float(np.mean([(p["pred"][sel] == labels[sel]).mean() for p in preds[name]]))
            if preds[name][0]["attention"] is not None:
                alpha = np.mean([p["attention"][sel] for p in preds[name]], axis=0)  # [n, 3], seeds averaged
                entry[f"{name}_alpha"] = alpha.mean(0).tolist()
                entry[f"{name}_alpha_std"] = alpha.std(0).tolist()
                entry[f"{name}_alpha_per_seed"] = [p["attention"][sel].mean(0).tolist() for p in preds[name]]
        if preds[name][0]["attention"] is not None:  # Welch t of conflict − agree, per part
            alpha = np.mean([p["attention"] for p in preds[name]], axis=0)
            a, b = alpha[~agree], alpha[agree]
            diff = a.mean(0) - b.mean(0)
            se = np.sqrt(a.var(0, ddof=1) / len(a) + b.var(0, ddof=1) / len(b))
            attention.setdefault("conflict_minus_agree", {})[name] = {"diff": diff.tolist(), "t": (diff / se).tolist()}
    for group, sel in groups.items():
        attention[group]["label_positive_fraction"] = float(labels[sel].mean())
    report["attention_by_agreement"] = attention
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["train", "analyse"])
    parser.add_argument("--data", default="cache/rd_mmsd")
    parser.add_argument("--out", type=Path, default=Path("cache/rd_runs"))
    parser.add_argument("--rows", nargs="+", default=list(ROWS))
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.action == "train":
        for name in args.rows:
            _, model, overrides = ROWS[name]
            cmd = command(model, args.data, args.seeds, overrides, args.out / name)
            print(shlex.join(cmd), flush=True)
            subprocess.run(cmd, check=True)
        return
    report = analyse(args.data, args.out, args.rows)
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
