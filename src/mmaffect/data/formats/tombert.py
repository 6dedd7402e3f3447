"""TomBERT TSV (Yu & Jiang, IJCAI 2019) for Twitter-2015/2017 MABSA: ``index, label, image, sentence with
$T$, target``; the ``$T$`` is replaced by the marked target.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data.formats.common import (
    Record, TaskFileError, int_label, make_bundle, need_file, with_images,
)

MABSA_LABELS = ["negative", "neutral", "positive"]
TOMBERT_SPLITS = {"train": "train.tsv", "valid": "dev.tsv", "test": "test.tsv"}


def mark_target(sentence: str, target: str, marker: tuple[str, str] = ("<t>", "</t>")) -> str | None:
    """The sentence with its ``$T$`` placeholder replaced by ``<t> target </t>``; None without ``$T$``."""
    if "$T$" not in sentence:
        return None
    return sentence.replace("$T$", f"{marker[0]} {target.strip()} {marker[1]}", 1)


def read_tombert(directory: str | Path, *, name: str, images_dir: str | Path | None = None,
                 marker: tuple[str, str] = ("<t>", "</t>"), files: dict[str, str] | None = None) -> DatasetBundle:
    """TomBERT TSV (Twitter-2015/2017 MABSA): ``index, label (0 neg, 1 neu, 2 pos), image, sentence, target``.

    ``raw_text`` = the sentence with ``$T$`` replaced by the marked target; ``texts["target"]``,
    ``texts["sentence"]`` (the target unmarked) and ``texts["image"]``. A row whose sentence has no
    ``$T$`` is skipped with a warning; the counts are in ``provenance["skipped"]``.
    """
    directory = Path(directory)
    splits: dict[str, list[Record]] = {}
    skipped: dict[str, int] = {}
    for split_name, file in (files or TOMBERT_SPLITS).items():
        path = need_file(directory / file, "TomBERT-format TSV")
        records, skips = [], []
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            for lineno, row in enumerate(reader, 1):
                if lineno == 1 and row and row[0].strip().lower() == "index":
                    continue
                if not row or not any(c.strip() for c in row):
                    continue
                if len(row) != 5:
                    raise TaskFileError(f"{path}:{lineno}: expected 5 tab-separated fields (index, label, image, "
                                        f"sentence, target), got {len(row)}")
                index, label, image, sentence, target = row
                label_i = int_label(label, f"{path}:{lineno}")
                text = mark_target(sentence, target, marker)
                if text is None:
                    skips.append(lineno)
                    continue
                records.append(Record(f"{split_name}-{index.strip()}", text, label_i,
                                      {"target": target.strip(), "sentence": sentence.replace("$T$", target.strip(), 1),
                                       "image": image.strip()}))
        if skips:
            warnings.warn(f"{path}: skipped {len(skips)} row(s) whose sentence has no $T$ placeholder "
                          f"(lines {', '.join(map(str, skips[:10]))}{', ...' if len(skips) > 10 else ''})",
                          stacklevel=2)
        splits[split_name], skipped[split_name] = records, len(skips)
    with_images(splits, images_dir, name)
    return make_bundle(name, splits, MABSA_LABELS,
                       {"source": str(directory), "format": "tombert_tsv", "skipped": skipped,
                        "target_marker": list(marker)}, family=name)
