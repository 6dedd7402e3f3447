"""MMSD (Cai et al., ACL 2019): ``train.txt``, ``valid2.txt``, ``test2.txt`` with one Python literal list
per line (``[tweet_id, text, label]``, a 4th field in valid/test), and ``image_attributes.txt``
(``[tweet_id, w1, ..., w5]``). Lines are parsed with :func:`ast.literal_eval` only. As in the original
code, training tweets containing any of :data:`MMSD_FILTER_WORDS` are discarded, and only tweets with
image attributes are kept.
"""

from __future__ import annotations

import ast
from pathlib import Path

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data.formats.common import (
    Record, TaskFileError, int_label, make_bundle, need_file, text_lines, with_images,
)

MMSD_FILTER_WORDS = ("exgag", "sarcasm", "sarcastic", "reposting", "<url>", "joke", "humour", "humor", "jokes",
                     "irony", "ironic")


def literal_list(path: Path, lineno: int, line: str, min_len: int) -> list:
    try:
        value = ast.literal_eval(line.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as err:
        raise TaskFileError(f"{path}:{lineno}: not a Python literal list ({type(err).__name__}: {err})") from None
    if not isinstance(value, (list, tuple)) or len(value) < min_len:
        raise TaskFileError(f"{path}:{lineno}: expected a list of at least {min_len} items, got {line[:80]!r}")
    return list(value)


def read_mmsd_attributes(path: str | Path) -> dict[str, list[str]]:
    """``image_attributes.txt``: tweet id -> its image attribute words."""
    path = need_file(Path(path), "MMSD image attributes (one [tweet_id, w1..w5] list per line)")
    out: dict[str, list[str]] = {}
    for lineno, line in text_lines(path):
        row = literal_list(path, lineno, line, 2)
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
        path = need_file(directory / file, "MMSD split file")
        records, no_attr, filtered = [], 0, 0
        for lineno, line in text_lines(path):
            row = literal_list(path, lineno, line, 3)
            tweet_id, text = str(row[0]), row[1]
            if not isinstance(text, str):
                raise TaskFileError(f"{path}:{lineno}: tweet text must be a string, got {type(text).__name__}")
            label = int_label(row[2], f"{path}:{lineno}")
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
    with_images(splits, images_dir, name)
    return make_bundle(name, splits, ["not_sarcastic", "sarcastic"],
                       {"source": str(directory), "format": "mmsd", "dropped": dropped,
                        "filter_words": list(MMSD_FILTER_WORDS) if filter_train else []},
                       family="mmsd")
