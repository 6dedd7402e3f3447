"""The one dataset resolver: :func:`load_dataset` turns a name or a path into a :class:`DatasetBundle`.

``spec`` is a registered benchmark name (:data:`DATASETS`, looked up under the data root), a native
dataset directory (or its ``dataset.json``), a manifest (``.csv``/``.tsv``/``.jsonl`` file with a split
column, or a folder of ``train``/``valid``/``test`` manifests), or an MMSA/MulT pickle (detected by
content). Every entry point (API, jobs, benchmark) resolves datasets through it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from mmaffect.data.bundle import DatasetBundle
from mmaffect.errors import DataError, DataFileNotFoundError
from mmaffect.registry import Registry

DatasetLoader = Callable[..., DatasetBundle]

DATASETS: Registry[DatasetLoader] = Registry("dataset")
DATASETS.add("synthetic", "mmaffect.data.synthetic:make_synthetic",
             description="embedded default: planted shared + sparse specific structure (regression)")
DATASETS.add("mosi_utterance", "mmaffect.data.registry:load_mosi_utterance",
             description="CMU-MOSI utterance features, MMSA pickle <root>/mosi_utterance/mosi_utterance.pkl")
DATASETS.add("mmsd", "mmaffect.data.registry:load_mmsd",
             description="Twitter multimodal sarcasm: tweet + image attribute words, <root>/mmsd/")
DATASETS.add("hateful_memes", "mmaffect.data.registry:load_hateful_memes",
             description="Hateful Memes JSONL (text + image paths), <root>/hateful_memes/")
DATASETS.add("twitter2015", "mmaffect.data.registry:load_twitter2015",
             description="Twitter-2015 MABSA, TomBERT TSV (target marked in the text), <root>/twitter2015/")
DATASETS.add("twitter2017", "mmaffect.data.registry:load_twitter2017",
             description="Twitter-2017 MABSA, TomBERT TSV (target marked in the text), <root>/twitter2017/")
DATASETS.add("meld", "mmaffect.data.registry:load_meld",
             description="MELD utterance text, 7-way emotion, <root>/meld/")
DATASETS.add("msed", "mmaffect.data.registry:load_msed",
             description="MSED image-text posts, 6-way emotion (target=sentiment|desire), <root>/msed/")
DATASETS.add("mvsa_single", "mmaffect.data.registry:load_mvsa_single",
             description="MVSA-Single image-text sentiment, seeded 8:1:1 split, <root>/mvsa_single/")

DATA_ROOT_ENV = "MMAFFECT_DATA_ROOT"
ACCEPTED_FORMATS = ("a dataset name (`mmaffect list`), a native dataset directory (with dataset.json), an MMSA/MulT "
                    "pickle (.pkl), or a manifest (.csv/.tsv/.jsonl with columns id, text, label[, split]; a "
                    "list of JSON objects goes one per line in a .jsonl file)")
NOT_DATASET_SUFFIXES = (".json", ".yaml", ".yml", ".txt", ".xlsx", ".xls", ".parquet", ".npz", ".npy", ".zip")


def default_data_root() -> Path | None:
    value = os.environ.get(DATA_ROOT_ENV)
    return Path(value) if value else None


def load_dataset(spec: str | Path, *, data_root: str | Path | None = None, **options: Any) -> DatasetBundle:
    """``spec`` is a registered name (``mmaffect list``), a native dataset directory, a manifest or a pickle path.

    Named real datasets are looked up under ``data_root`` (or ``$MMAFFECT_DATA_ROOT``). ``options`` go to
    the reader (e.g. ``images_dir`` for task files and manifests, ``target`` for MELD/MSED, ``name``).
    """
    spec = str(spec)
    if spec in DATASETS:
        loader = DATASETS.get(spec)
        if spec == "synthetic":
            return loader(**options)
        root = Path(data_root) if data_root else default_data_root()
        if root is None:
            raise DataFileNotFoundError(f"dataset {spec!r} needs --data-root (or ${DATA_ROOT_ENV}) pointing at "
                                        f"the data folder")
        return loader(root, **options)
    path = Path(spec)
    if not path.exists():
        raise DataFileNotFoundError(f"no dataset named {spec!r} and no file or directory at {path}; "
                                    f"known names: {', '.join(DATASETS.names())}")
    return read_path(path, **options)


def read_path(path: str | Path, **options: Any) -> DatasetBundle:
    """A native dataset, a manifest (file or folder) or an MMSA/MulT pickle at ``path``."""
    from mmaffect.data.formats.manifest import MANIFEST_SUFFIXES, is_manifest_dir, read_manifest
    from mmaffect.data.formats.mmsa import load_pickle
    from mmaffect.data.native import read_native

    path = Path(path)
    if path.is_dir():
        if (path / "dataset.json").is_file():
            return read_native(path)
        if is_manifest_dir(path):
            return read_manifest(path, **options)
        raise DataError(f"{path}: a directory without dataset.json (native dataset) or train.csv/.tsv/.jsonl "
                        f"(manifests) is not a dataset")
    if path.name == "dataset.json" and path.is_file():
        return read_native(path.parent)
    if path.suffix.lower() in MANIFEST_SUFFIXES and path.is_file():
        return read_manifest(path, **options)
    if path.suffix.lower() in NOT_DATASET_SUFFIXES:
        raise DataError(f"{path}: a {path.suffix} file is not a dataset; accepted: {ACCEPTED_FORMATS}")
    return load_pickle(path, **options)


def is_manifest(spec: str | Path) -> bool:
    """True when ``spec`` is a manifest file or a folder of split manifests."""
    from mmaffect.data.formats.manifest import MANIFEST_SUFFIXES, is_manifest_dir

    path = Path(spec)
    if path.is_dir():
        return not (path / "dataset.json").is_file() and is_manifest_dir(path)
    return path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES


# ----------------------------------------------------------------------------------------- named benchmarks

def _folder(root: Path, name: str, expected: str) -> Path:
    folder = Path(root) / name
    if not folder.is_dir():
        raise DataFileNotFoundError(f"{folder} not found: --data-root must contain {name}/ with {expected}")
    return folder


def load_mosi_utterance(root: Path) -> DatasetBundle:
    """CMU-MOSI utterance-level features in the MMSA pickle layout (``mosi_utterance/mosi_utterance.pkl``)."""
    from mmaffect.data.formats.mmsa import load_mmsa_pickle

    path = Path(root) / "mosi_utterance" / "mosi_utterance.pkl"
    if not path.exists():
        raise DataFileNotFoundError(f"{path} not found: --data-root must contain mosi_utterance/mosi_utterance.pkl")
    return load_mmsa_pickle(path, name="mosi_utterance")


def load_mmsd(root: Path, **options: Any) -> DatasetBundle:
    """MMSD sarcasm (``mmsd/``: train.txt, valid2.txt, test2.txt, image_attributes.txt)."""
    from mmaffect.data.formats.mmsd import read_mmsd

    return read_mmsd(_folder(root, "mmsd", "train.txt, valid2.txt, test2.txt, image_attributes.txt"), **options)


def load_hateful_memes(root: Path, **options: Any) -> DatasetBundle:
    """Hateful Memes (``hateful_memes/``: train.jsonl, dev_seen.jsonl, test_seen.jsonl)."""
    from mmaffect.data.formats.hateful_memes import read_hateful_memes

    return read_hateful_memes(_folder(root, "hateful_memes", "train.jsonl, dev_seen.jsonl, test_seen.jsonl"),
                              **options)


def load_twitter2015(root: Path, **options: Any) -> DatasetBundle:
    """Twitter-2015 MABSA (``twitter2015/``: TomBERT train.tsv, dev.tsv, test.tsv)."""
    from mmaffect.data.formats.tombert import read_tombert

    return read_tombert(_folder(root, "twitter2015", "train.tsv, dev.tsv, test.tsv"), name="twitter2015", **options)


def load_twitter2017(root: Path, **options: Any) -> DatasetBundle:
    """Twitter-2017 MABSA (``twitter2017/``: TomBERT train.tsv, dev.tsv, test.tsv)."""
    from mmaffect.data.formats.tombert import read_tombert

    return read_tombert(_folder(root, "twitter2017", "train.tsv, dev.tsv, test.tsv"), name="twitter2017", **options)


def load_meld(root: Path, **options: Any) -> DatasetBundle:
    """MELD text, 7-way emotion (``meld/``: {train,dev,test}_sent_emo.csv); ``target="sentiment"`` for 3-way."""
    from mmaffect.data.formats.meld import read_meld

    return read_meld(_folder(root, "meld", "train_sent_emo.csv, dev_sent_emo.csv, test_sent_emo.csv"), **options)


def load_msed(root: Path, **options: Any) -> DatasetBundle:
    """MSED (``msed/``: train, dev and test CSVs, ``<split>.csv`` or ``<split>/<split>.csv``)."""
    from mmaffect.data.formats.msed import read_msed

    return read_msed(_folder(root, "msed", "train.csv, dev.csv, test.csv"), **options)


def load_mvsa_single(root: Path, **options: Any) -> DatasetBundle:
    """MVSA-Single (``mvsa_single/``: labelResultAll.txt and data/<ID>.txt)."""
    from mmaffect.data.formats.mvsa import read_mvsa_single

    return read_mvsa_single(_folder(root, "mvsa_single", "labelResultAll.txt, data/"), **options)
