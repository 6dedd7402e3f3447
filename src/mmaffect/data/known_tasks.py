"""Loaders for the known task-file benchmarks under a data root (``<root>/<dataset>/...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data import tasks


def _folder(root: Path, name: str, expected: str) -> Path:
    folder = Path(root) / name
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} not found: --data-root must contain {name}/ with {expected}")
    return folder


def load_mmsd(root: Path, **options: Any) -> DatasetBundle:
    """MMSD sarcasm (``mmsd/``: train.txt, valid2.txt, test2.txt, image_attributes.txt)."""
    return tasks.read_mmsd(_folder(root, "mmsd", "train.txt, valid2.txt, test2.txt, image_attributes.txt"), **options)


def load_hateful_memes(root: Path, **options: Any) -> DatasetBundle:
    """Hateful Memes (``hateful_memes/``: train.jsonl, dev_seen.jsonl, test_seen.jsonl)."""
    return tasks.read_hateful_memes(_folder(root, "hateful_memes", "train.jsonl, dev_seen.jsonl, test_seen.jsonl"),
                                    **options)


def load_twitter2015(root: Path, **options: Any) -> DatasetBundle:
    """Twitter-2015 MABSA (``twitter2015/``: TomBERT train.tsv, dev.tsv, test.tsv)."""
    return tasks.read_tombert(_folder(root, "twitter2015", "train.tsv, dev.tsv, test.tsv"), name="twitter2015",
                              **options)


def load_twitter2017(root: Path, **options: Any) -> DatasetBundle:
    """Twitter-2017 MABSA (``twitter2017/``: TomBERT train.tsv, dev.tsv, test.tsv)."""
    return tasks.read_tombert(_folder(root, "twitter2017", "train.tsv, dev.tsv, test.tsv"), name="twitter2017",
                              **options)


def load_meld(root: Path, **options: Any) -> DatasetBundle:
    """MELD text, 7-way emotion (``meld/``: {train,dev,test}_sent_emo.csv); ``target="sentiment"`` for 3-way."""
    return tasks.read_meld(_folder(root, "meld", "train_sent_emo.csv, dev_sent_emo.csv, test_sent_emo.csv"),
                           **options)
