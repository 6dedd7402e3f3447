"""CK+48 with the FER2013 mini-Xception port: zero-shot accuracy on the 6 classes CK+ shares with FER2013,
and a linear probe (logistic regression, C chosen on valid) on the 128-d pooled features, all 7 classes.

    python benchmarks/ckplus_fer_probe.py ../shared/data/ckplus48 [--out benchmarks/results/ckplus_fer_probe.json]

Faces are the 48×48 crops resized to 64×64 (bilinear), without detection. Zero-shot is reported two ways:
argmax over the 6 shared classes, and argmax over all 7 FER outputs (a 'neutral' answer counts as wrong).
References (issue 13): zero-shot 0.705 test accuracy, probe 0.865.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from linear_probe import linear_probe

CK_TO_FER = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "sadness": "sad",
             "surprise": "surprise"}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the ckplus48 folder (manifest.csv, images/)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ckplus_fer_probe.json"))
    args = parser.parse_args(argv)

    import cv2

    from mmaffect.encoders.face import FaceEncoder
    from mmaffect.encoders.fer_net import FER_CLASSES
    from mmaffect.io import atomic_write_json
    from mmaffect.runtime import configure_threads

    configure_threads(1)
    rows = list(csv.DictReader(open(args.data / "manifest.csv", newline="")))
    images = [cv2.imread(str(args.data / r["image"]), cv2.IMREAD_GRAYSCALE) for r in rows]
    start = time.perf_counter()
    out = FaceEncoder().encode_images(images, detect=False)
    seconds = time.perf_counter() - start
    labels = np.array([r["label"] for r in rows])
    split = np.array([r["split"] for r in rows])

    result: dict = {"images": len(rows), "encode_seconds": round(seconds, 2)}
    shared = [FER_CLASSES.index(CK_TO_FER[c]) for c in sorted(CK_TO_FER)]
    for part in ("valid", "test"):
        keep = (split == part) & np.isin(labels, list(CK_TO_FER))
        truth = np.array([FER_CLASSES.index(CK_TO_FER[c]) for c in labels[keep]])
        probs = out.probabilities[keep]
        six = np.array(shared)[probs[:, shared].argmax(1)]
        result[f"zero_shot_{part}_accuracy_6way"] = round(float((six == truth).mean()), 4)
        result[f"zero_shot_{part}_accuracy_7way_argmax"] = round(float((probs.argmax(1) == truth).mean()), 4)
        result[f"zero_shot_{part}_n"] = int(keep.sum())

    x = {s: out.features[split == s] for s in ("train", "valid", "test")}
    y = {s: labels[split == s] for s in ("train", "valid", "test")}
    found = linear_probe(x, y)
    result.update({"probe_C": found["C"], "probe_valid_accuracy": found["valid_accuracy"],
                   "probe_test_accuracy": found["test_accuracy"], "probe_test_macro_f1": found["test_macro_f1"],
                   "references": {"zero_shot_test": 0.705, "probe_test": 0.865},
                   "command": "python benchmarks/ckplus_fer_probe.py " + " ".join(sys.argv[1:] if argv is None else argv)})
    atomic_write_json(args.out, result, indent=2)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
