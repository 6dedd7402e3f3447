"""CK+48 read as text: ``text_centric`` on the ``template`` description of each face image, against a
linear probe on EfficientNet-Lite0's pooled features and the FER2013 probe reference (0.865; 0.872 measured
in ``benchmarks/results/ckplus_fer_probe.json``).

Route (outside the repository; ``ckplus48`` has no text column, so a copy of its manifest gets a constant
post text "a photo of a face" and absolute image paths)::

    python benchmarks/ckplus_text_centric.py manifest ../shared/data/ckplus48 cache/tpl/ckplus48_manifest.csv
    mmaffect convert cache/tpl/ckplus48_manifest.csv cache/tpl/ck_native --allow-outside-paths
    mmaffect describe cache/tpl/ck_native --describer template --no-ocr --transcript none \\
        --cache cache/tpl/ck_desc.jsonl --out cache/tpl/ck_desc
    mmaffect extract cache/tpl/ck_desc --pooling tokens --max-tokens 64 --name desc \\
        --field visual_scene+cross_modal+reasoning
    mmaffect train --model text_centric --data cache/tpl/ck_desc --seeds 1111 1112 1113 \\
        --out cache/tpl/runs/ck_tc16 --set 'model.modalities=[desc]' --set model.top_k=16 \\
        --set objectives.uniformity.weight=0.0
    python benchmarks/ckplus_text_centric.py probe ../shared/data/ckplus48 --runs cache/tpl/runs/ck_tc16

``probe``: logistic regression on standardised EfficientNet-Lite0 pooled features (1280-d), C chosen on
valid accuracy from {0.001, …, 10}, scored on test (deterministic: one number, no seeds); then the test
accuracy of each seed of the ``--runs`` folders (best valid epoch), read from their checkpoints.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np


def write_manifest(data: Path, out: Path) -> None:
    rows = list(csv.DictReader(open(data / "manifest.csv", encoding="utf-8")))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "image", "text", "label", "subject", "split"])
        for r in rows:
            writer.writerow([r["id"], str((data / r["image"]).resolve()), "a photo of a face", r["label"],
                             r["subject"], r["split"]])


def run_scores(run_dir: Path) -> list[dict]:
    """Per seed: the test metrics a training run recorded."""
    out = []
    for path in sorted(run_dir.glob("seed_*/metrics.json")):
        record = json.loads(path.read_text())
        test = record["metrics"]["test"]
        out.append({"seed": record["seed"], "best_epoch": record["best_epoch"], "acc": round(test["acc"], 4),
                    "macro_f1": round(test["macro_f1"], 4)})
    return out


def probe(data: Path) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mmaffect.encoders.efficientnet import EfficientNetLite0Encoder

    rows = list(csv.DictReader(open(data / "manifest.csv", encoding="utf-8")))
    encoder = EfficientNetLite0Encoder(batch_size=32)
    start = time.perf_counter()
    pooled = encoder.encode([str(data / r["image"]) for r in rows]).pooled
    seconds = time.perf_counter() - start
    labels = np.array([r["label"] for r in rows])
    split = np.array([r["split"] for r in rows])
    parts = {s: (pooled[split == s], labels[split == s]) for s in ("train", "valid", "test")}
    best = None
    for c in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000)).fit(*parts["train"])
        valid = accuracy_score(parts["valid"][1], model.predict(parts["valid"][0]))
        if best is None or valid > best[0]:
            best = (valid, c, model)
    valid, c, model = best
    predicted = model.predict(parts["test"][0])
    return {"images": len(rows), "encode_seconds": round(seconds, 1), "probe_C": c, "probe_valid_accuracy": round(valid, 4),
            "probe_test_accuracy": round(accuracy_score(parts["test"][1], predicted), 4),
            "probe_test_macro_f1": round(f1_score(parts["test"][1], predicted, average="macro"), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["manifest", "probe"])
    parser.add_argument("data", type=Path, help="the ckplus48 folder")
    parser.add_argument("out", type=Path, nargs="?", help="manifest: where to write the copy")
    parser.add_argument("--runs", type=Path, nargs="*", default=[])
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/ckplus_text_centric.json"))
    args = parser.parse_args()
    if args.step == "manifest":
        write_manifest(args.data, args.out)
        return
    result = {"efficientnet_probe": probe(args.data),
              "runs": {str(r): run_scores(r) for r in args.runs},
              "references": {"fer_probe_test": 0.865, "fer_probe_test_measured": 0.8723}}
    from mmaffect.io import atomic_write_json

    atomic_write_json(args.json, result, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
