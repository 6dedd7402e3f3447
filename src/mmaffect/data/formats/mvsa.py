"""MVSA-Single (Niu et al., MMM 2016): ``labelResultAll.txt`` (``ID\\ttext_label,image_label``) and
``data/<ID>.txt``; the usual merge of the two labels (conflicting positive/negative pairs dropped).
"""

from __future__ import annotations

import random
from pathlib import Path

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data.formats.common import (
    Record, TaskFileError, make_bundle, need_file, text_lines, with_images,
)

MVSA_LABELS = ["negative", "neutral", "positive"]


def mvsa_merge(text_label: str, image_label: str) -> str | None:
    """The usual MVSA label merge: equal labels kept; one neutral -> the other; positive vs negative -> None."""
    if text_label == image_label:
        return text_label
    if "neutral" in (text_label, image_label):
        return image_label if text_label == "neutral" else text_label
    return None


def read_mvsa_single(directory: str | Path, *, images_dir: str | Path | None = None, seed: int = 0,
                     ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), name: str = "mvsa_single") -> DatasetBundle:
    """MVSA-Single: ``labelResultAll.txt`` + ``data/<ID>.txt`` (+ ``data/<ID>.jpg``).

    Labels merged by :func:`mvsa_merge` (conflicting pairs dropped, counted in provenance). There is no
    official split: a seeded random ``ratios`` split (8:1:1 as most papers).
    """
    directory = Path(directory)
    path = need_file(directory / "labelResultAll.txt", "MVSA-Single labels (ID<TAB>text_label,image_label)")
    records, conflicts = [], 0
    for lineno, line in text_lines(path):
        parts = line.split("\t")
        if lineno == 1 and parts[0].strip().upper() == "ID":
            continue
        if len(parts) != 2 or parts[1].count(",") != 1:
            raise TaskFileError(f"{path}:{lineno}: expected 'ID<TAB>text_label,image_label', got {line[:80]!r}")
        sample_id = parts[0].strip()
        text_label, image_label = (p.strip().lower() for p in parts[1].split(","))
        for lab in (text_label, image_label):
            if lab not in MVSA_LABELS:
                raise TaskFileError(f"{path}:{lineno}: unknown label {lab!r} (expected one of {MVSA_LABELS})")
        merged = mvsa_merge(text_label, image_label)
        if merged is None:
            conflicts += 1
            continue
        text_file = need_file(directory / "data" / f"{sample_id}.txt", f"text of MVSA sample {sample_id} ({path}:{lineno})")
        text = text_file.read_bytes().decode("utf-8", errors="replace").strip()
        records.append(Record(sample_id, text, MVSA_LABELS.index(merged),
                              {"image": f"{sample_id}.jpg", "text_label": text_label, "image_label": image_label}))
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    n_train, n_valid = int(ratios[0] * len(order)), int(ratios[1] * len(order))
    parts_idx = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid], "test": order[n_train + n_valid:]}
    splits = {k: [records[i] for i in sorted(v)] for k, v in parts_idx.items()}
    with_images(splits, images_dir, name)
    return make_bundle(name, splits, MVSA_LABELS, {"source": str(directory), "format": "mvsa_single",
                                                   "conflicting_pairs_dropped": conflicts, "split_seed": seed,
                                                   "split_ratios": list(ratios)}, family="mvsa_single")
