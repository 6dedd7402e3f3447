"""CK+48 through the video route: each posed-expression sequence written as a short MP4, then the documented
``convert → extract --encoder face → train → predict`` route, against the still-image FER2013 references.

Steps (``OUT`` outside the repository, e.g. ``../cache/ckplus_video``)::

    python benchmarks/ckplus_video.py clips ../shared/data/ckplus48 OUT     # OUT/clips/*.mp4, OUT/manifest.csv
    mmaffect convert OUT/manifest.csv OUT/native
    mmaffect extract OUT/native --encoder face --fps 5                      # video_face [N, 3, 136]
    mmaffect train --model early_fusion --data OUT/native --modalities video_face \\
        --seeds 1111 1112 1113 --out OUT/runs/early_fusion
    mmaffect predict OUT/runs/early_fusion --video OUT/clips/<id>.mp4
    mmaffect predict OUT/runs/early_fusion --manifest OUT/test_manifest.csv --out OUT/test_predictions.txt
    python benchmarks/ckplus_video.py evaluate ../shared/data/ckplus48 OUT --runs OUT/runs/early_fusion \\
        --predictions OUT/test_predictions.txt

``clips``: the manifest's images grouped by sequence (ids ``S005_001_00000009`` = subject, sequence, frame),
in frame order; every image of a sequence must share its label, subject and split (else an error naming
the sequence). Each 48×48 grey frame is upscaled (bicubic) to ``--size`` (192) pixels so that the Haar
detector's 40 px minimum face fits (``--border B``: upscaled to ``size − 2B`` and framed by ``B`` pixels
of replicated edge, which gives the detector the margin a tight crop lacks), and written at ``--fps`` (5)
frames per second, H.264 (libx264, yuv420p, CRF ``--crf`` 10, near lossless). The manifest
``id, video, text, label, subject, split`` keeps the dataset's subject split, one label per sequence;
``text`` is the constant "a face" (a manifest needs a non-empty text; it is not used as a modality here).
``test_manifest.csv`` holds the test rows alone (for ``mmaffect predict --manifest``).

``evaluate``: from the extracted ``video_face`` modality (per frame: 7 FER2013 probabilities, 128-d
features, a face-found channel), per sequence over its frames with a face:

- zero-shot: argmax of the mean probabilities over the 6 classes CK+ shares with FER2013 (contempt
  sequences left out), and over all 7 FER outputs (a 'neutral' answer counts as wrong);
- probe: logistic regression on standardised mean-pooled 128-d features, C chosen on valid accuracy from
  {0.001, …, 100}, scored on test (all 7 classes);
- the same two on the still 48×48 crops without detection, mean-pooled over the sequence's frames (what
  detection and the clip cost, with the grouping by sequence held fixed);
- the sequences with no face in any frame (from ``video_face.failures.json``) and the frames without one;
- the test metrics of each seed of the ``--runs`` folders (best valid epoch).

Writes ``--json`` (default ``benchmarks/results/ckplus_video.json``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from linear_probe import linear_probe

CK_TO_FER = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "sadness": "sad",
             "surprise": "surprise"}
SPLITS = ("train", "valid", "test")
PROBE_C = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)


def sequences(data: Path) -> dict[str, dict]:
    """Sequence id -> {label, subject, split, images (paths in frame order)} from ``data/manifest.csv``."""
    grouped: dict[str, dict] = {}
    with open(data / "manifest.csv", newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            parts = row["id"].split("_")
            if len(parts) != 3 or not parts[2].isdigit():
                raise ValueError(f"{data / 'manifest.csv'} line {line}: id {row['id']!r} is not subject_sequence_frame")
            key = f"{parts[0]}_{parts[1]}"
            entry = grouped.setdefault(key, {"label": row["label"], "subject": row["subject"], "split": row["split"],
                                             "frames": []})
            for column in ("label", "subject", "split"):
                if entry[column] != row[column]:
                    raise ValueError(f"{data / 'manifest.csv'} line {line}: sequence {key} has {column} "
                                     f"{row[column]!r} here and {entry[column]!r} in an earlier frame")
            entry["frames"].append((int(parts[2]), row["image"]))
    for entry in grouped.values():
        entry["images"] = [image for _, image in sorted(entry.pop("frames"))]
    return grouped


def write_clip(path: Path, frames: list[np.ndarray], *, fps: int, crf: int) -> None:
    """Grey uint8 frames ``[h, w]`` as an H.264 MP4 (written to a temporary name, then renamed)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.mp4")
    with av.open(str(partial), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="gray").reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.replace(path)


def make_clips(data: Path, out: Path, *, size: int, border: int, fps: int, crf: int) -> dict:
    """Write every sequence's clip and the manifest; return counts per split."""
    import cv2

    from mmaffect.io import atomic_write_text

    if not 0 <= 2 * border < size:
        raise ValueError(f"--border {border} leaves no face in a {size} px frame")
    grouped = sequences(data)
    lines = ["id,video,text,label,subject,split"]
    for key, entry in sorted(grouped.items()):
        clip = out / "clips" / f"{key}.mp4"
        if not clip.exists():
            inner = size - 2 * border
            frames = [cv2.copyMakeBorder(cv2.resize(cv2.imread(str(data / image), cv2.IMREAD_GRAYSCALE), (inner, inner),
                                                    interpolation=cv2.INTER_CUBIC),
                                         border, border, border, border, cv2.BORDER_REPLICATE)
                      for image in entry["images"]]
            write_clip(clip, frames, fps=fps, crf=crf)
        lines.append(f"{key},clips/{key}.mp4,a face,{entry['label']},{entry['subject']},{entry['split']}")
    atomic_write_text(out / "manifest.csv", "\n".join(lines) + "\n")
    test_rows = [line for line in lines[1:] if line.endswith(",test")]
    atomic_write_text(out / "test_manifest.csv", "\n".join([lines[0], *test_rows]) + "\n")
    counts = {s: sum(e["split"] == s for e in grouped.values()) for s in SPLITS}
    frames = Counter(len(e["images"]) for e in grouped.values())
    return {"sequences": len(grouped), "per_split": counts, "frames_per_sequence": dict(sorted(frames.items())),
            "size": size, "border": border, "fps": fps, "crf": crf}


def probe(x: dict, y: dict) -> dict:
    """The shared linear probe (C on valid) on the sequence features."""
    return linear_probe(x, y, c_grid=PROBE_C)


def zero_shot(probabilities: dict, labels: dict) -> dict:
    """FER2013 argmax against the CK+ label on the 6 shared classes (6-way and 7-way argmax)."""
    from mmaffect.encoders.fer_net import FER_CLASSES

    shared = np.array([FER_CLASSES.index(CK_TO_FER[c]) for c in sorted(CK_TO_FER)])
    result = {}
    for part in ("valid", "test"):
        keep = np.isin(labels[part], list(CK_TO_FER))
        truth = np.array([FER_CLASSES.index(CK_TO_FER[c]) for c in labels[part][keep]])
        probs = probabilities[part][keep]
        six = shared[probs[:, shared].argmax(1)]
        result[part] = {"accuracy_6way": round(float((six == truth).mean()), 4),
                        "accuracy_7way_argmax": round(float((probs.argmax(1) == truth).mean()), 4),
                        "n": int(keep.sum())}
    return result


def video_features(native: Path) -> tuple[dict, dict, dict, dict]:
    """Per split: mean FER probabilities [N, 7], mean features [N, 128] over frames with a face, labels, ids;
    plus face counts."""
    from mmaffect.data.native import read_native

    bundle = read_native(native)
    names = list(bundle.task.label_names)
    probs, feats, labels, counts = {}, {}, {}, {}
    for part in SPLITS:
        split = bundle.split(part)
        array = np.asarray(split.features["video_face"], dtype=np.float64)
        lengths = np.asarray(split.lengths["video_face"])
        found = array[:, :, 135] > 0.5
        steps = np.arange(array.shape[1])[None, :] < lengths[:, None]
        weight = (found & steps).astype(np.float64)
        total = np.maximum(weight.sum(1, keepdims=True), 1.0)
        probs[part] = (array[:, :, :7] * weight[:, :, None]).sum(1) / total
        feats[part] = (array[:, :, 7:135] * weight[:, :, None]).sum(1) / total
        raw = np.asarray(split.labels)
        labels[part] = np.array([names[int(i)] for i in raw])
        counts[part] = {"sequences": int(len(raw)), "frames": int(steps.sum()),
                        "frames_without_face": int((steps & ~found).sum()),
                        "sequences_without_face": int((weight.sum(1) == 0).sum())}
    return probs, feats, labels, counts


def still_features(data: Path) -> tuple[dict, dict, dict]:
    """The 48×48 crops without detection, FER outputs mean-pooled per sequence, per split."""
    import cv2

    from mmaffect.encoders.face import FaceEncoder

    encoder = FaceEncoder()
    probs: dict = {s: [] for s in SPLITS}
    feats: dict = {s: [] for s in SPLITS}
    labels: dict = {s: [] for s in SPLITS}
    for key, entry in sorted(sequences(data).items()):
        out = encoder.encode_images([cv2.imread(str(data / i), cv2.IMREAD_GRAYSCALE) for i in entry["images"]],
                                    detect=False)
        probs[entry["split"]].append(out.probabilities.mean(0))
        feats[entry["split"]].append(out.features.mean(0))
        labels[entry["split"]].append(entry["label"])
    return ({s: np.stack(v) for s, v in probs.items()}, {s: np.stack(v) for s, v in feats.items()},
            {s: np.array(v) for s, v in labels.items()})


def run_scores(run_dir: Path) -> dict:
    """Per seed: the test metrics a training run recorded; mean and sample std (ddof 1, as `mmaffect train`)."""
    seeds = []
    for path in sorted(run_dir.glob("seed_*/metrics.json")):
        record = json.loads(path.read_text())
        test = record["metrics"]["test"]
        seeds.append({"seed": record["seed"], "best_epoch": record["best_epoch"], "acc": round(test["acc"], 4),
                      "macro_f1": round(test["macro_f1"], 4)})
    summary: dict = {"seeds": seeds}
    for key in ("acc", "macro_f1"):
        values = np.array([s[key] for s in seeds], dtype=np.float64)
        if len(values):
            spread = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            summary[f"{key}_mean"], summary[f"{key}_std"] = round(float(values.mean()), 4), round(spread, 4)
    return summary


def predicted_accuracy(out: Path, printed: Path) -> dict:
    """Accuracy of the labels ``mmaffect predict --manifest`` printed (``<id>: label <name> (...)`` lines)
    against ``out/manifest.csv``."""
    import re

    truth = {r["id"]: r["label"] for r in csv.DictReader(open(out / "manifest.csv", newline="", encoding="utf-8"))}
    predicted = {}
    for line in printed.read_text(encoding="utf-8").splitlines():
        match = re.match(r"(\S+?)(?:\.mp4)?: label (\S+)", line)
        if match:
            predicted[match.group(1)] = match.group(2)
    unknown = sorted(set(predicted) - set(truth))
    if unknown:
        raise ValueError(f"{printed}: ids not in {out / 'manifest.csv'}: {unknown[:5]}")
    correct = sum(predicted[k] == truth[k] for k in predicted)
    return {"file": str(printed), "clips": len(predicted), "accuracy": round(correct / max(len(predicted), 1), 4)}


def evaluate(data: Path, out: Path, runs: list[Path], json_path: Path, command: str,
             predictions: Path | None = None) -> dict:
    from mmaffect.io import atomic_write_json

    probs, feats, labels, counts = video_features(out / "native")
    failures_path = out / "native" / "video_face.failures.json"
    failures = json.loads(failures_path.read_text()) if failures_path.exists() else {}
    still_probs, still_feats, still_labels = still_features(data)
    result = {
        "clips": json.loads((out / "clips.json").read_text()) if (out / "clips.json").exists() else None,
        "face_detection": counts,
        "failures": {part: {k: v.get("kind") for k, v in items.items()} for part, items in failures.items()},
        "video_route": {"zero_shot": zero_shot(probs, labels), "probe": probe(feats, labels)},
        "still_crops_by_sequence": {"zero_shot": zero_shot(still_probs, still_labels),
                                    "probe": probe(still_feats, still_labels)},
        "runs": {str(r): run_scores(r) for r in runs},
        "predict_manifest": predicted_accuracy(out, predictions) if predictions else None,
        "references": {"zero_shot_test_6way_images": 0.705, "zero_shot_test_6way_images_measured": 0.7132,
                       "probe_test_images": 0.865, "probe_test_images_measured": 0.8723},
        "command": command,
    }
    atomic_write_json(json_path, result, indent=2)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["clips", "evaluate"])
    parser.add_argument("data", type=Path, help="the ckplus48 folder (manifest.csv, images/)")
    parser.add_argument("out", type=Path, help="output folder (clips/, manifest.csv, native/, runs/)")
    parser.add_argument("--size", type=int, default=192, help="clips: frame side in pixels (bicubic upscaling)")
    parser.add_argument("--border", type=int, default=0,
                        help="clips: pixels of replicated edge around the upscaled face (the face is size - 2·border)")
    parser.add_argument("--fps", type=int, default=5, help="clips: frames per second")
    parser.add_argument("--crf", type=int, default=10, help="clips: x264 constant rate factor (0 = lossless)")
    parser.add_argument("--runs", type=Path, nargs="*", default=[], help="evaluate: training run folders")
    parser.add_argument("--predictions", type=Path, default=None,
                        help="evaluate: the --out text file of `mmaffect predict RUN --manifest CLIPS.csv`")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/ckplus_video.json"))
    args = parser.parse_args(argv)
    from mmaffect.runtime import configure_threads

    configure_threads(1)
    command = "python benchmarks/ckplus_video.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.step == "clips":
        from mmaffect.io import atomic_write_json

        summary = make_clips(args.data, args.out, size=args.size, border=args.border, fps=args.fps, crf=args.crf)
        atomic_write_json(args.out / "clips.json", summary, indent=2)
        print(json.dumps(summary, indent=2))
        return
    print(json.dumps(evaluate(args.data, args.out, args.runs, args.json, command, args.predictions), indent=2))


if __name__ == "__main__":
    main()
