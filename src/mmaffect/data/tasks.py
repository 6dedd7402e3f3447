"""Readers for the task files the image-text and text benchmarks ship, and for a generic manifest.

Every reader returns a :class:`DatasetBundle` whose splits carry no feature modality yet
(``features = {}``): ``raw_text`` is the main text, ``texts`` the other per-sample text fields (image
paths in ``texts["image"]``), labels are integers and the task is a classification
:class:`TaskSpec` (metric set ``binary`` for two classes, ``classification`` otherwise). Features
are added afterwards with ``mmaffect extract`` (text encoders) or ``mmaffect describe`` (image
descriptions), on a native copy written with :func:`mmaffect.data.native.write_native`.

Formats:

- **MMSD** (Cai et al., ACL 2019): ``train.txt``, ``valid2.txt``, ``test2.txt`` with one Python
  literal list per line (``[tweet_id, text, label]``, a 4th field in valid/test), and
  ``image_attributes.txt`` (``[tweet_id, w1, ..., w5]``). Lines are parsed with
  :func:`ast.literal_eval` only. As in the original code, training tweets containing any of
  :data:`MMSD_FILTER_WORDS` are discarded, and only tweets with image attributes are kept.
- **Hateful Memes** (Kiela et al., NeurIPS 2020): JSONL lines ``{id, img, label, text}``.
- **TomBERT TSV** (Yu & Jiang, IJCAI 2019) for Twitter-2015/2017 MABSA: ``index, label, image,
  sentence with $T$, target``; the ``$T$`` is replaced by the marked target.
- **MVSA-Single** (Niu et al., MMM 2016): ``labelResultAll.txt`` (``ID\\ttext_label,image_label``) and
  ``data/<ID>.txt``; the usual merge of the two labels (conflicting positive/negative pairs dropped).
- **MSED** (Jia et al., NAACL 2022): per split a CSV with ``Image_ID``, ``Title``, ``Caption`` and the
  ``Sentiment`` / ``Emotion`` / ``Desire`` columns.
- **MELD** (Poria et al., ACL 2019): ``{train,dev,test}_sent_emo.csv`` (text only).
- **Manifest**: CSV or JSONL with columns ``id, text, image, audio, video, label`` (and optionally
  ``split``), for custom data.
"""

from __future__ import annotations

import ast
import csv
import json
import random
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from mmaffect.data.bundle import DatasetBundle, SplitData
from mmaffect.types import TaskSpec

MMSD_FILTER_WORDS = ("exgag", "sarcasm", "sarcastic", "reposting", "<url>", "joke", "humour", "humor", "jokes",
                     "irony", "ironic")
MABSA_LABELS = ["negative", "neutral", "positive"]
MELD_EMOTIONS = ["neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger"]
MELD_SENTIMENTS = ["neutral", "positive", "negative"]
MSED_LABELS = {
    "sentiment": ["positive", "neutral", "negative"],
    "emotion": ["happiness", "sad", "neutral", "disgust", "anger", "fear"],
    "desire": ["vengeance", "curiosity", "social-contact", "family", "tranquility", "romance", "none"],
}
MVSA_LABELS = ["negative", "neutral", "positive"]
IMAGE_ALTERNATIVE = ("without the images, use precomputed descriptions instead: "
                     "`mmaffect describe ... --describer file --descriptions DESCRIPTIONS.jsonl` "
                     "(or `--describer attributes` where the dataset ships attribute words)")


class TaskFileError(ValueError):
    """A malformed task file; the message names the file and, where there is one, the line."""


class MissingImagesError(FileNotFoundError):
    """Images a step needs are not on disk; the message says which and what to use instead."""


# ----------------------------------------------------------------------------------------- building blocks

@dataclass
class Record:
    """One sample as read from a task file."""

    id: str
    text: str
    label: int
    fields: dict[str, str] = field(default_factory=dict)


def classification_task(label_names: Sequence[str]) -> TaskSpec:
    """The classification :class:`TaskSpec` of ``label_names`` (``binary`` metrics for two classes)."""
    names = [str(n) for n in label_names]
    return TaskSpec(kind="classification", metrics="binary" if len(names) == 2 else "classification",
                    num_classes=len(names), label_names=names)


def build_split(records: Sequence[Record], where: str = "") -> SplitData:
    """A :class:`SplitData` without feature modalities from ``records`` (every record has the same fields)."""
    keys: list[str] = []
    for r in records:
        for k in r.fields:
            if k not in keys:
                keys.append(k)
    return SplitData(
        features={}, lengths={},
        labels=np.asarray([r.label for r in records], dtype=np.int64),
        ids=[r.id for r in records],
        raw_text=[r.text for r in records],
        texts={k: [r.fields.get(k, "") for r in records] for k in keys},
    )


def make_bundle(name: str, splits: dict[str, Sequence[Record]], label_names: Sequence[str],
                provenance: dict[str, Any]) -> DatasetBundle:
    for split_name, records in splits.items():
        if not records:
            raise TaskFileError(f"{name}: split {split_name!r} is empty")
        for r in records:
            if not 0 <= r.label < len(label_names):
                raise TaskFileError(f"{name}: split {split_name!r}, sample {r.id!r}: label {r.label} outside "
                                    f"0..{len(label_names) - 1}")
    return DatasetBundle(name, classification_task(label_names),
                         {k: build_split(v) for k, v in splits.items()}, provenance)


def _need(path: Path, hint: str = "") -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found" + (f": {hint}" if hint else ""))
    return path


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines of a UTF-8 text file with their 1-based numbers."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                yield lineno, line.rstrip("\n")


def resolve_images(paths: Sequence[str], images_dir: str | Path | None, *, dataset: str) -> list[str]:
    """``paths`` joined to ``images_dir``; every file must exist, else :class:`MissingImagesError`.

    Without ``images_dir`` the paths are returned as they are (relative names from the task file), and
    nothing is checked: only steps that read pixels need the images.
    """
    if images_dir is None:
        return list(paths)
    root = Path(images_dir)
    if not root.is_dir():
        raise MissingImagesError(f"{dataset}: images directory {root} does not exist; {IMAGE_ALTERNATIVE}")
    resolved = [str(p if Path(p).is_absolute() else root / p) for p in paths]
    missing = [p for p in resolved if not Path(p).is_file()]
    if missing:
        raise MissingImagesError(f"{dataset}: {len(missing)} of {len(resolved)} images not found under {root} "
                                 f"(first: {missing[0]}); {IMAGE_ALTERNATIVE}")
    return resolved


def check_images_exist(paths: Sequence[str], *, dataset: str) -> None:
    """Raise :class:`MissingImagesError` unless every path is an existing file."""
    missing = [p for p in paths if not p or not Path(p).is_file()]
    if missing:
        raise MissingImagesError(f"{dataset}: {len(missing)} of {len(paths)} images not found "
                                 f"(first: {missing[0] or '<empty path>'}); pass --images-dir with the folder "
                                 f"holding them, or {IMAGE_ALTERNATIVE}")


def _with_images(splits: dict[str, list[Record]], images_dir: str | Path | None, dataset: str) -> None:
    """Resolve ``fields["image"]`` of every record against ``images_dir`` (in place)."""
    if images_dir is None:
        return
    for records in splits.values():
        resolved = resolve_images([r.fields.get("image", "") for r in records], images_dir, dataset=dataset)
        for r, p in zip(records, resolved):
            r.fields["image"] = p


def _int_label(value: Any, where: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise TaskFileError(f"{where}: label {value!r} is not an integer")


# ----------------------------------------------------------------------------------------- MMSD

def _literal_list(path: Path, lineno: int, line: str, min_len: int) -> list:
    try:
        value = ast.literal_eval(line.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as err:
        raise TaskFileError(f"{path}:{lineno}: not a Python literal list ({type(err).__name__}: {err})") from None
    if not isinstance(value, (list, tuple)) or len(value) < min_len:
        raise TaskFileError(f"{path}:{lineno}: expected a list of at least {min_len} items, got {line[:80]!r}")
    return list(value)


def read_mmsd_attributes(path: str | Path) -> dict[str, list[str]]:
    """``image_attributes.txt``: tweet id -> its image attribute words."""
    path = _need(Path(path), "MMSD image attributes (one [tweet_id, w1..w5] list per line)")
    out: dict[str, list[str]] = {}
    for lineno, line in _lines(path):
        row = _literal_list(path, lineno, line, 2)
        out[str(row[0])] = [str(w) for w in row[1:]]
    return out


def read_mmsd(directory: str | Path, *, images_dir: str | Path | None = None, filter_train: bool = True,
              name: str = "mmsd") -> DatasetBundle:
    """MMSD: ``raw_text`` = tweet, ``texts["attributes"]`` = the five attribute words joined by spaces,
    ``texts["image"]`` = ``<id>.jpg`` (joined to ``images_dir`` and checked when given).

    The benchmark label is the third element (in valid/test the fourth is a second annotation, kept as
    ``texts["label2"]``). With ``filter_train`` training tweets containing any of
    :data:`MMSD_FILTER_WORDS` (substring match) are discarded, as in the original code; only tweets
    with image attributes are kept: train 19557, valid 2410, test 2409.
    """
    directory = Path(directory)
    attributes = read_mmsd_attributes(directory / "image_attributes.txt")
    splits: dict[str, list[Record]] = {}
    dropped: dict[str, dict[str, int]] = {}
    for split_name, file in (("train", "train.txt"), ("valid", "valid2.txt"), ("test", "test2.txt")):
        path = _need(directory / file, "MMSD split file")
        records, no_attr, filtered = [], 0, 0
        for lineno, line in _lines(path):
            row = _literal_list(path, lineno, line, 3)
            tweet_id, text = str(row[0]), row[1]
            if not isinstance(text, str):
                raise TaskFileError(f"{path}:{lineno}: tweet text must be a string, got {type(text).__name__}")
            label = _int_label(row[2], f"{path}:{lineno}")
            if label not in (0, 1):
                raise TaskFileError(f"{path}:{lineno}: label must be 0 or 1, got {label}")
            if tweet_id not in attributes:
                no_attr += 1
                continue
            if filter_train and split_name == "train" and any(w in text for w in MMSD_FILTER_WORDS):
                filtered += 1
                continue
            fields = {"attributes": " ".join(attributes[tweet_id]), "image": f"{tweet_id}.jpg"}
            if len(row) > 3:
                fields["label2"] = str(row[3])
            records.append(Record(tweet_id, text.strip(), label, fields))
        splits[split_name] = records
        dropped[split_name] = {"without_attributes": no_attr, "filtered_words": filtered}
    _with_images(splits, images_dir, name)
    return make_bundle(name, splits, ["not_sarcastic", "sarcastic"],
                       {"source": str(directory), "format": "mmsd", "dropped": dropped,
                        "filter_words": list(MMSD_FILTER_WORDS) if filter_train else []})


# ----------------------------------------------------------------------------------------- Hateful Memes

HATEFUL_MEMES_SPLITS = {"train": "train.jsonl", "valid": "dev_seen.jsonl", "test": "test_seen.jsonl"}


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    for lineno, line in _lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise TaskFileError(f"{path}:{lineno}: invalid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(row, dict):
            raise TaskFileError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        yield lineno, row


def read_hateful_memes(directory: str | Path, *, images_dir: str | Path | None = None,
                       files: dict[str, str] | None = None, name: str = "hateful_memes") -> DatasetBundle:
    """Hateful Memes JSONL (``{id, img, label, text}``): ``raw_text`` = meme text, ``texts["image"]`` = ``img``.

    Default splits: ``train.jsonl`` / ``dev_seen.jsonl`` / ``test_seen.jsonl`` (the labelled ones).
    """
    directory = Path(directory)
    splits: dict[str, list[Record]] = {}
    for split_name, file in (files or HATEFUL_MEMES_SPLITS).items():
        path = _need(directory / file, "Hateful Memes annotations")
        records = []
        for lineno, row in _jsonl(path):
            missing = [k for k in ("id", "img", "label", "text") if k not in row]
            if missing:
                raise TaskFileError(f"{path}:{lineno}: missing key(s) {missing} (test_unseen/test without labels "
                                    f"cannot be used for training or scoring)")
            label = _int_label(row["label"], f"{path}:{lineno}")
            records.append(Record(str(row["id"]), str(row["text"]), label, {"image": str(row["img"])}))
        splits[split_name] = records
    _with_images(splits, images_dir, name)
    return make_bundle(name, splits, ["not_hateful", "hateful"], {"source": str(directory), "format": "hateful_memes"})


# ----------------------------------------------------------------------------------------- TomBERT TSV

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
        path = _need(directory / file, "TomBERT-format TSV")
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
                label_i = _int_label(label, f"{path}:{lineno}")
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
    _with_images(splits, images_dir, name)
    return make_bundle(name, splits, MABSA_LABELS,
                       {"source": str(directory), "format": "tombert_tsv", "skipped": skipped,
                        "target_marker": list(marker)})


# ----------------------------------------------------------------------------------------- MVSA-Single

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
    path = _need(directory / "labelResultAll.txt", "MVSA-Single labels (ID<TAB>text_label,image_label)")
    records, conflicts = [], 0
    for lineno, line in _lines(path):
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
        text_file = _need(directory / "data" / f"{sample_id}.txt", f"text of MVSA sample {sample_id} ({path}:{lineno})")
        text = text_file.read_bytes().decode("utf-8", errors="replace").strip()
        records.append(Record(sample_id, text, MVSA_LABELS.index(merged),
                              {"image": f"{sample_id}.jpg", "text_label": text_label, "image_label": image_label}))
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    n_train, n_valid = int(ratios[0] * len(order)), int(ratios[1] * len(order))
    parts_idx = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid], "test": order[n_train + n_valid:]}
    splits = {k: [records[i] for i in sorted(v)] for k, v in parts_idx.items()}
    _with_images(splits, images_dir, name)
    return make_bundle(name, splits, MVSA_LABELS, {"source": str(directory), "format": "mvsa_single",
                                                   "conflicting_pairs_dropped": conflicts, "split_seed": seed,
                                                   "split_ratios": list(ratios)})


# ----------------------------------------------------------------------------------------- MSED

MSED_SPLITS = {"train": ("train",), "valid": ("dev", "valid", "val"), "test": ("test",)}


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV with a header, keyed by lower-cased stripped column names, with their line numbers."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            raise TaskFileError(f"{path}: empty file (no header)")
        for row in reader:
            if None in row:
                raise TaskFileError(f"{path}:{reader.line_num}: more fields than the header has")
            yield reader.line_num, {str(k).strip().lower(): (v if v is not None else "") for k, v in row.items()}


def _label_index(value: str, names: Sequence[str], where: str) -> int:
    value = value.strip()
    if re.fullmatch(r"[+-]?\d+", value):
        index = int(value)
    else:
        lowered = [n.lower() for n in names]
        if value.lower() not in lowered:
            raise TaskFileError(f"{where}: unknown label {value!r} (expected one of {list(names)} or an index)")
        index = lowered.index(value.lower())
    if not 0 <= index < len(names):
        raise TaskFileError(f"{where}: label {index} outside 0..{len(names) - 1}")
    return index


def read_msed(directory: str | Path, *, target: str = "emotion", images_dir: str | Path | None = None,
              name: str = "msed") -> DatasetBundle:
    """MSED: ``<split>.csv`` or ``<split>/<split>.csv`` with ``Image_ID, Title, Caption, Sentiment, Emotion, Desire``.

    ``raw_text`` = title and caption joined by a newline (the caption is the post's image-side text),
    ``texts["title"]``, ``texts["caption"]``, ``texts["image"]`` = ``<Image_ID>.jpg``; the label is the
    ``target`` column (``sentiment``, ``emotion`` or ``desire``; names or indices).
    """
    if target not in MSED_LABELS:
        raise ValueError(f"MSED target must be one of {sorted(MSED_LABELS)}, got {target!r}")
    directory = Path(directory)
    names = MSED_LABELS[target]
    splits: dict[str, list[Record]] = {}
    for split_name, stems in MSED_SPLITS.items():
        candidates = [p for s in stems for p in (directory / f"{s}.csv", directory / s / f"{s}.csv")]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(f"MSED {split_name} split not found: looked for "
                                    f"{', '.join(str(p) for p in candidates)}")
        records = []
        for lineno, row in _csv_rows(path):
            where = f"{path}:{lineno}"
            id_key = next((k for k in ("image_id", "id") if k in row), None)
            if id_key is None or target not in row:
                raise TaskFileError(f"{where}: needs columns image_id (or id) and {target}; has {sorted(row)}")
            title, caption = row.get("title", "").strip(), row.get("caption", "").strip()
            sample_id = row[id_key].strip()
            image = sample_id if Path(sample_id).suffix else f"{sample_id}.jpg"
            records.append(Record(sample_id, "\n".join(t for t in (title, caption) if t),
                                  _label_index(row[target], names, where),
                                  {"title": title, "caption": caption, "image": image}))
        splits[split_name] = records
    _with_images(splits, images_dir, name)
    return make_bundle(name, splits, names, {"source": str(directory), "format": "msed", "target": target})


# ----------------------------------------------------------------------------------------- MELD

MELD_SPLITS = {"train": "train_sent_emo.csv", "valid": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}


def read_meld(directory: str | Path, *, target: str = "emotion", name: str = "meld") -> DatasetBundle:
    """MELD text: ``raw_text`` = utterance, ``texts["speaker"]``; label = 7-way emotion or 3-way sentiment.

    Ids are ``dia<Dialogue_ID>_utt<Utterance_ID>`` (the names of MELD's video clips).
    """
    if target not in ("emotion", "sentiment"):
        raise ValueError(f"MELD target must be 'emotion' or 'sentiment', got {target!r}")
    names = MELD_EMOTIONS if target == "emotion" else MELD_SENTIMENTS
    directory = Path(directory)
    splits: dict[str, list[Record]] = {}
    for split_name, file in MELD_SPLITS.items():
        path = _need(directory / file, "MELD annotations")
        records = []
        for lineno, row in _csv_rows(path):
            where = f"{path}:{lineno}"
            missing = [k for k in ("utterance", target, "dialogue_id", "utterance_id") if k not in row]
            if missing:
                raise TaskFileError(f"{where}: missing column(s) {missing}")
            text = row["utterance"].replace("\u2019", "'").replace("\u0092", "'").strip()
            records.append(Record(f"dia{row['dialogue_id'].strip()}_utt{row['utterance_id'].strip()}", text,
                                  _label_index(row[target], names, where),
                                  {"speaker": row.get("speaker", "").strip()}))
        splits[split_name] = records
    return make_bundle(name, splits, names, {"source": str(directory), "format": "meld", "target": target})


# ----------------------------------------------------------------------------------------- manifest

MANIFEST_MEDIA = ("image", "audio", "video")
MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl")
MANIFEST_SPLIT_NAMES = {"train": "train", "valid": "valid", "dev": "valid", "val": "valid", "validation": "valid",
                        "test": "test"}


def _manifest_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() in (".jsonl", ".json"):
        for lineno, row in _jsonl(path):
            yield lineno, {str(k).strip().lower(): v for k, v in row.items()}
    elif path.suffix.lower() in (".csv", ".tsv"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            if reader.fieldnames is None:
                raise TaskFileError(f"{path}: empty file (no header)")
            for row in reader:
                if None in row:
                    raise TaskFileError(f"{path}:{reader.line_num}: more fields than the header has")
                yield reader.line_num, {str(k).strip().lower(): v for k, v in row.items()}
    else:
        raise TaskFileError(f"{path}: a manifest must be .csv, .tsv or .jsonl")


def read_manifest(path: str | Path, *, name: str | None = None, images_dir: str | Path | None = None,
                  label_names: Sequence[str] | None = None) -> DatasetBundle:
    """A generic manifest for custom data: columns ``id, text, label`` (required) and ``image, audio, video``.

    ``path`` is one file with a ``split`` column (``train``/``valid``/``test``; ``dev``/``val`` accepted)
    or a directory with ``train``, ``valid`` (or ``dev``) and ``test`` files (``.csv``/``.tsv``/``.jsonl``).
    Labels are class indices, or class names (ordered by ``label_names`` when given, else sorted).
    Media paths are kept in ``texts["image"]``/``["audio"]``/``["video"]``; relative image paths are
    joined to ``images_dir`` (default: the manifest's folder) only when ``images_dir`` is given.
    """
    path = Path(path)
    rows: dict[str, list[tuple[str, int, dict[str, Any]]]] = {"train": [], "valid": [], "test": []}
    if path.is_dir():
        for split_name, stems in (("train", ("train",)), ("valid", ("valid", "dev", "val")), ("test", ("test",))):
            files = [path / f"{s}{ext}" for s in stems for ext in MANIFEST_SUFFIXES]
            found = next((f for f in files if f.is_file()), None)
            if found is None:
                looked = ", ".join(f.name for f in files)
                raise FileNotFoundError(f"{path}: no {split_name} manifest (looked for {looked})")
            rows[split_name] = [(f"{found}:{n}", n, r) for n, r in _manifest_rows(found)]
    else:
        _need(path, "manifest file")
        for lineno, row in _manifest_rows(path):
            where = f"{path}:{lineno}"
            split = str(row.get("split", "")).strip().lower()
            if split not in MANIFEST_SPLIT_NAMES:
                raise TaskFileError(f"{where}: split {split!r} must be one of train, valid (dev, val) or test "
                                    f"(a single-file manifest needs a split column)")
            rows[MANIFEST_SPLIT_NAMES[split]].append((where, lineno, row))
    labels_raw = [str(r.get("label", "")).strip() for part in rows.values() for _, _, r in part]
    numeric = all(re.fullmatch(r"[+-]?\d+", v) for v in labels_raw if v)
    if label_names is not None:
        names = [str(n) for n in label_names]
    elif numeric:
        top = max((int(v) for v in labels_raw if v), default=1)
        names = [str(i) for i in range(max(top + 1, 2))]
    else:
        names = sorted({v for v in labels_raw if v})
    splits: dict[str, list[Record]] = {}
    for split_name, part in rows.items():
        records = []
        for where, _, row in part:
            for key in ("id", "text", "label"):
                if row.get(key) is None or str(row.get(key)).strip() == "":
                    raise TaskFileError(f"{where}: missing or empty {key!r} (a manifest needs id, text, label)")
            fields = {k: str(row[k]).strip() for k in MANIFEST_MEDIA if row.get(k) not in (None, "")}
            label = _label_index(str(row["label"]), names, where)
            records.append(Record(str(row["id"]).strip(), str(row["text"]), label, fields))
        splits[split_name] = records
    if images_dir is not None:
        for records in splits.values():
            with_image = [r for r in records if "image" in r.fields]
            resolved = resolve_images([r.fields["image"] for r in with_image], images_dir, dataset=str(path))
            for r, p in zip(with_image, resolved):
                r.fields["image"] = p
    return make_bundle(name or path.stem, splits, names, {"source": str(path), "format": "manifest"})

