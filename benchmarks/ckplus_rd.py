"""CK+48 through ``rd``: EfficientNet-Lite0 patch tokens decomposed against the MiniLM token states of the
``template`` description, with learned projections and the unrolled decomposition trained end to end.

Representation Decomposition (arXiv 2506.07086) splits the two token matrices ``X_image``, ``X_text``
``[49, 64]`` into one shared low-rank ``L`` and one sparse ``S_m`` per modality,
``min ||L||_* + λ Σ_m ||S_m||_1  s.t.  X_m = L + S_m``, and fuses the parts by attention
``α = softmax_P(wᵀ vec P + b)``, ``P ∈ {L, S_image, S_text}``. ImageNet features are not text-aligned as
CLIP's are, so each side is first mapped to the common width ``c = 64`` by a learned linear projection
(``model.projection: linear``) and the decomposition is ``K = 10`` unrolled ALM steps with learnable
``λ_k``, ``μ_k`` (``model.decomposition: unrolled``), trained end to end with the classifier.

Route (outside the repository; ``ck_rd`` is a copy of the colleague's ``cache/tpl/ck_desc``, see
``benchmarks/ckplus_text_centric.py`` for how that was built)::

    cp -al cache/tpl/ck_desc cache/ckrd/ck_rd   # then replace dataset.json, extract_settings.json, index.jsonl by copies
    mmaffect extract cache/ckrd/ck_rd --encoder efficientnet-lite0 --allow-outside-paths
    mmaffect extract cache/ckrd/ck_rd --pooling tokens --max-tokens 49 --name desc \\
        --field visual_scene+cross_modal+reasoning --replace
    mmaffect train --model rd --data cache/ckrd/ck_rd --seeds 1111 1112 1113 --out cache/ckrd/runs/rd_unrolled \\
        --set 'model.modalities=[image_efficientnet,desc]' --set model.decomposition=unrolled
    mmaffect train --model early_fusion --data cache/ckrd/ck_rd --seeds 1111 1112 1113 \\
        --out cache/ckrd/runs/early_fusion --set model.hidden=128 --set 'data.modalities=[image_efficientnet,desc]' \\
        --set data.standardize=false --set optim.max_epochs=30 --set optim.patience=6
    python benchmarks/ckplus_rd.py --data cache/ckrd/ck_rd --runs cache/ckrd/runs/rd_unrolled \\
        --compare cache/ckrd/runs/early_fusion

This script reads every seed's best-valid checkpoint and, on the test split:

- the test accuracy / macro F1 the run recorded (best valid epoch);
- α (mean over samples) per true expression class and overall, averaged over seeds;
- what the parts carry: a logistic regression (standardised inputs, C chosen on valid accuracy from
  {0.001, …, 10}, fitted on train) on the row mean of ``L`` only, of ``S_image`` only, of ``S_text`` only,
  of both ``S`` and of all three, each part taken from the trained model's decomposition of every split;
- the same probe on the mean-pooled EfficientNet tokens and on the mean-pooled description tokens;
- the recorded test metrics of ``--compare`` runs (``early_fusion``: the same per-modality encoders and
  head without the fused matrix R, the exact ablation of the decomposition).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from linear_probe import linear_probe

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
SPLITS = ("train", "valid", "test")


def logistic_probe(feats: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> dict[str, float]:
    """The shared linear probe (C by valid accuracy) on ``feats``."""
    found = linear_probe(feats, labels, c_grid=C_GRID, max_iter=3000)
    return {"C": found["C"], "valid_acc": found["valid_accuracy"], "test_acc": found["test_accuracy"],
            "test_macro_f1": found["test_macro_f1"]}


def pooled_tokens(split, modality: str) -> np.ndarray:
    """Mean of the real token states ``[N, D]``."""
    x = np.asarray(split.features[modality], dtype=np.float64)
    lengths = np.asarray(split.lengths[modality])
    mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
    return (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)


def decomposition_outputs(predictor, split, task) -> dict[str, np.ndarray]:
    """Per sample: α ``[N, 3]``, the row means of ``L`` and each ``S_m`` ``[N, c]``, energies, labels,
    predictions, from one eval-mode pass of the trained model."""
    import torch

    from mmaffect.data.loader import make_loader

    predictor.eval()
    out: dict[str, list[np.ndarray]] = {}
    loader = make_loader(split, classification=task.kind == "classification", batch_size=128, shuffle=False)
    with torch.no_grad():
        for batch in loader:
            output = predictor(batch)
            rep = output.representations
            rows = {"alpha": output.diagnostics["attention"], "L": rep["low_rank"].mean(1),
                    "energy_low_rank": output.diagnostics["energy_low_rank"],
                    "energy_sparse": output.diagnostics["energy_sparse"],
                    "pred": output.prediction.argmax(-1), "label": batch.labels}
            rows.update({f"S_{m}": s.mean(1) for m, s in rep["sparse"].items()})
            if "decomposition_residual" in output.diagnostics:  # unrolled / on_the_fly: ||X_m - L - S_m|| / ||X_m||
                rows["residual"] = output.diagnostics["decomposition_residual"]
            for k, v in rows.items():
                out.setdefault(k, []).append(v.float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def analyse(data: Path, runs: Path) -> dict:
    from mmaffect.data.native import read_native
    from mmaffect.training.checkpoint import load_checkpoint

    bundle = read_native(data)
    names = list(bundle.task.label_names)
    labels = {s: np.asarray(bundle.split(s).labels) for s in SPLITS}
    baselines = {
        "efficientnet_pooled": logistic_probe({s: pooled_tokens(bundle.split(s), "image_efficientnet")
                                               for s in SPLITS}, labels),
        "description_pooled": logistic_probe({s: pooled_tokens(bundle.split(s), "desc") for s in SPLITS}, labels),
    }
    seeds = []
    for seed_dir in sorted(runs.glob("seed_*")):
        ckpt = load_checkpoint(seed_dir)
        view = bundle.with_modalities(ckpt.modalities)
        parts = {s: decomposition_outputs(ckpt.predictor, view.split(s), ckpt.task) for s in SPLITS}
        inputs = ckpt.predictor.model.inputs
        record = json.loads((seed_dir / "metrics.json").read_text())
        test = parts["test"]
        probes = {}
        sets = {"L": ["L"], **{f"S_{m}": [f"S_{m}"] for m in inputs}, "S_all": [f"S_{m}" for m in inputs],
                "L+S_all": ["L", *(f"S_{m}" for m in inputs)]}
        for key, cols in sets.items():
            probes[key] = logistic_probe({s: np.concatenate([parts[s][c] for c in cols], 1) for s in SPLITS},
                                         labels)
        alpha_by_class = {names[k]: r4(test["alpha"][test["label"] == k].mean(0))
                          for k in range(len(names)) if (test["label"] == k).any()}
        unrolled = ckpt.predictor.model.unrolled
        seeds.append({
            "seed": record["seed"], "best_epoch": record["best_epoch"], "epochs": record["epochs"],
            "test_acc": round(record["metrics"]["test"]["acc"], 4),
            "test_macro_f1": round(record["metrics"]["test"]["macro_f1"], 4),
            "valid_acc": round(record["metrics"]["valid"]["acc"], 4),
            "recomputed_test_acc": round(float((test["pred"] == test["label"]).mean()), 4),
            "alpha_order": ["L", *(f"S_{m}" for m in inputs)],
            "alpha_test": r4(test["alpha"].mean(0)),
            "alpha_test_std_over_samples": r4(test["alpha"].std(0)),
            "alpha_by_class": alpha_by_class,
            "energy_fraction_test": {  # mean over samples of ||P||² / (||L||² + Σ ||S_m||²)
                p: round(float(v), 4) for p, v in zip(
                    ["L", *(f"S_{m}" for m in inputs)],
                    (np.concatenate([test["energy_low_rank"][:, None], test["energy_sparse"]], 1)
                     / np.concatenate([test["energy_low_rank"][:, None], test["energy_sparse"]], 1)
                     .sum(1, keepdims=True)).mean(0))},
            "relative_residual_test": ({"mean": r4(test["residual"].mean()), "max": r4(test["residual"].max())}
                                       if "residual" in test else None),
            "learned_lambda": r4(unrolled.lam.detach().numpy()) if unrolled is not None else None,
            "learned_mu": r4(unrolled.mu.detach().numpy()) if unrolled is not None else None,
            "probes": probes,
        })
    return {"data": str(data), "runs": str(runs), "label_names": names,
            "test_class_counts": {names[k]: int((labels["test"] == k).sum()) for k in range(len(names))},
            "baselines": baselines, "seeds": seeds, "summary": summarise(seeds, names),
            "references": {"fer_probe_test": 0.865, "fer_probe_test_measured": 0.8723,
                           "efficientnet_probe_colleague": 0.7801, "text_centric_test": "0.799 ± 0.030"}}


def r4(x) -> list | float:
    """``x`` rounded to 4 decimals as plain floats (float32 values printed without their noise)."""
    return np.round(np.asarray(x, dtype=np.float64), 4).tolist()


def mean_std(values: list[float]) -> list[float]:
    return [round(float(np.mean(values)), 4), round(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, 4)]


def summarise(seeds: list[dict], names: list[str]) -> dict:
    if not seeds:
        return {}
    return {
        "test_acc": mean_std([s["test_acc"] for s in seeds]),
        "test_macro_f1": mean_std([s["test_macro_f1"] for s in seeds]),
        "alpha_test": r4(np.mean([s["alpha_test"] for s in seeds], 0)),
        "alpha_by_class": {n: r4(np.mean([s["alpha_by_class"][n] for s in seeds], 0))
                           for n in names if all(n in s["alpha_by_class"] for s in seeds)},
        "probes_test_acc": {k: mean_std([s["probes"][k]["test_acc"] for s in seeds]) for k in seeds[0]["probes"]},
        "probes_test_macro_f1": {k: mean_std([s["probes"][k]["test_macro_f1"] for s in seeds])
                                 for k in seeds[0]["probes"]},
    }


def run_scores(run_dir: Path) -> dict:
    """Per seed: the test metrics a training run recorded at its best valid epoch, and their mean ± std."""
    seeds = []
    for path in sorted(run_dir.glob("seed_*/metrics.json")):
        record = json.loads(path.read_text())
        seeds.append({"seed": record["seed"], "best_epoch": record["best_epoch"],
                      "test_acc": round(record["metrics"]["test"]["acc"], 4),
                      "test_macro_f1": round(record["metrics"]["test"]["macro_f1"], 4)})
    return {"run": str(run_dir), "seeds": seeds, "test_acc": mean_std([s["test_acc"] for s in seeds]),
            "test_macro_f1": mean_std([s["test_macro_f1"] for s in seeds])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the native CK+48 copy with both token modalities")
    parser.add_argument("--runs", type=Path, required=True, help="the `mmaffect train --model rd` results folder")
    parser.add_argument("--compare", type=Path, nargs="*", default=[],
                        help="other results folders of the same data (e.g. early_fusion), recorded by test metrics")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/ckplus_rd.json"))
    args = parser.parse_args()
    result = analyse(args.data, args.runs)
    result["compare"] = {p.name: run_scores(p) for p in args.compare}
    from mmaffect.io import atomic_write_json

    atomic_write_json(args.json, result, indent=2)
    print(json.dumps(result["summary"], indent=2))
    print(json.dumps(result["baselines"], indent=2))


if __name__ == "__main__":
    main()
