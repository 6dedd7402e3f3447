"""MELD (Poria et al., ACL 2019): ``{train,dev,test}_sent_emo.csv`` (text only).
"""

from __future__ import annotations

from pathlib import Path

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data.formats.common import Record, TaskFileError, csv_rows, label_index, make_bundle, need_file
from mmaffect.errors import ConfigError

MELD_EMOTIONS = ["neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger"]
MELD_SENTIMENTS = ["neutral", "positive", "negative"]
MELD_SPLITS = {"train": "train_sent_emo.csv", "valid": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}


def read_meld(directory: str | Path, *, target: str = "emotion", name: str = "meld") -> DatasetBundle:
    """MELD text: ``raw_text`` = utterance, ``texts["speaker"]``; label = 7-way emotion or 3-way sentiment.

    Ids are ``dia<Dialogue_ID>_utt<Utterance_ID>`` (the names of MELD's video clips).
    """
    if target not in ("emotion", "sentiment"):
        raise ConfigError(f"MELD target must be 'emotion' or 'sentiment', got {target!r}")
    names = MELD_EMOTIONS if target == "emotion" else MELD_SENTIMENTS
    directory = Path(directory)
    splits: dict[str, list[Record]] = {}
    for split_name, file in MELD_SPLITS.items():
        path = need_file(directory / file, "MELD annotations")
        records = []
        for lineno, row in csv_rows(path):
            where = f"{path}:{lineno}"
            missing = [k for k in ("utterance", target, "dialogue_id", "utterance_id") if k not in row]
            if missing:
                raise TaskFileError(f"{where}: missing column(s) {missing}")
            text = row["utterance"].replace("\u2019", "'").replace("\u0092", "'").strip()
            records.append(Record(f"dia{row['dialogue_id'].strip()}_utt{row['utterance_id'].strip()}", text,
                                  label_index(row[target], names, where),
                                  {"speaker": row.get("speaker", "").strip()}))
        splits[split_name] = records
    return make_bundle(name, splits, names, {"source": str(directory), "format": "meld", "target": target},
                       family="meld")
