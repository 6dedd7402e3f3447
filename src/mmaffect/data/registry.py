"""Known datasets by name, and the resolver from a name or a path to a :class:`DatasetBundle`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from mmaffect.data.bundle import DatasetBundle
from mmaffect.registry import Registry

DatasetLoader = Callable[..., DatasetBundle]

DATASETS: Registry[DatasetLoader] = Registry("dataset")
DATASETS.add("synthetic", "mmaffect.data.synthetic:make_synthetic",
             description="embedded default: planted shared + sparse specific structure (regression)")
DATASETS.add("mosi_utterance", "mmaffect.data.known:load_mosi_utterance",
             description="CMU-MOSI utterance features, MMSA pickle <root>/mosi_utterance/mosi_utterance.pkl")
DATASETS.add("mmsd", "mmaffect.data.known_tasks:load_mmsd",
             description="Twitter multimodal sarcasm: tweet + image attribute words, <root>/mmsd/")
DATASETS.add("hateful_memes", "mmaffect.data.known_tasks:load_hateful_memes",
             description="Hateful Memes JSONL (text + image paths), <root>/hateful_memes/")
DATASETS.add("twitter2015", "mmaffect.data.known_tasks:load_twitter2015",
             description="Twitter-2015 MABSA, TomBERT TSV (target marked in the text), <root>/twitter2015/")
DATASETS.add("twitter2017", "mmaffect.data.known_tasks:load_twitter2017",
             description="Twitter-2017 MABSA, TomBERT TSV (target marked in the text), <root>/twitter2017/")
DATASETS.add("meld", "mmaffect.data.known_tasks:load_meld",
             description="MELD utterance text, 7-way emotion, <root>/meld/")

DATA_ROOT_ENV = "MMAFFECT_DATA_ROOT"


def default_data_root() -> Path | None:
    value = os.environ.get(DATA_ROOT_ENV)
    return Path(value) if value else None


def load_dataset(spec: str, *, data_root: str | Path | None = None, **options: Any) -> DatasetBundle:
    """``spec`` is a registered name (``mmaffect list``), a native dataset directory, a manifest or a pickle path.

    Named real datasets are looked up under ``data_root`` (or ``$MMAFFECT_DATA_ROOT``).
    """
    if spec in DATASETS:
        loader = DATASETS.get(spec)
        if spec == "synthetic":
            return loader(**options)
        root = Path(data_root) if data_root else default_data_root()
        if root is None:
            raise FileNotFoundError(f"dataset {spec!r} needs --data-root (or ${DATA_ROOT_ENV}) pointing at the data folder")
        return loader(root, **options)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"no dataset named {spec!r} and no file or directory at {path}; "
                                f"known names: {', '.join(DATASETS.names())}")
    from mmaffect.data.mmsa import read_any

    return read_any(path)
