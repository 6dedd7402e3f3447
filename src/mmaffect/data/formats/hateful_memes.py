"""Hateful Memes (Kiela et al., NeurIPS 2020): JSONL lines ``{id, img, label, text}``.
"""

from __future__ import annotations

from pathlib import Path

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data.formats.common import (
    Record, TaskFileError, int_label, jsonl_rows, make_bundle, need_file, with_images,
)

HATEFUL_MEMES_SPLITS = {"train": "train.jsonl", "valid": "dev_seen.jsonl", "test": "test_seen.jsonl"}


def read_hateful_memes(directory: str | Path, *, images_dir: str | Path | None = None,
                       files: dict[str, str] | None = None, name: str = "hateful_memes") -> DatasetBundle:
    """Hateful Memes JSONL (``{id, img, label, text}``): ``raw_text`` = meme text, ``texts["image"]`` = ``img``.

    Default splits: ``train.jsonl`` / ``dev_seen.jsonl`` / ``test_seen.jsonl`` (the labelled ones).
    """
    directory = Path(directory)
    splits: dict[str, list[Record]] = {}
    for split_name, file in (files or HATEFUL_MEMES_SPLITS).items():
        path = need_file(directory / file, "Hateful Memes annotations")
        records = []
        for lineno, row in jsonl_rows(path):
            missing = [k for k in ("id", "img", "label", "text") if k not in row]
            if missing:
                raise TaskFileError(f"{path}:{lineno}: missing key(s) {missing} (test_unseen/test without labels "
                                    f"cannot be used for training or scoring)")
            label = int_label(row["label"], f"{path}:{lineno}")
            records.append(Record(str(row["id"]), str(row["text"]), label, {"image": str(row["img"])}))
        splits[split_name] = records
    with_images(splits, images_dir, name)
    return make_bundle(name, splits, ["not_hateful", "hateful"], {"source": str(directory), "format": "hateful_memes"},
                       family="hateful_memes")
