"""MSED (Jia et al., NAACL 2022): per split a CSV with ``Image_ID``, ``Title``, ``Caption`` and the
``Sentiment`` / ``Emotion`` / ``Desire`` columns.
"""

from __future__ import annotations

from pathlib import Path

from mmaffect.data.bundle import DatasetBundle
from mmaffect.data.formats.common import (
    Record, TaskFileError, csv_rows, label_index, make_bundle, with_images,
)
from mmaffect.errors import ConfigError, DataFileNotFoundError

MSED_LABELS = {
    "sentiment": ["positive", "neutral", "negative"],
    "emotion": ["happiness", "sad", "neutral", "disgust", "anger", "fear"],
    "desire": ["vengeance", "curiosity", "social-contact", "family", "tranquility", "romance", "none"],
}
MSED_SPLITS = {"train": ("train",), "valid": ("dev", "valid", "val"), "test": ("test",)}


def read_msed(directory: str | Path, *, target: str = "emotion", images_dir: str | Path | None = None,
              name: str = "msed") -> DatasetBundle:
    """MSED: ``<split>.csv`` or ``<split>/<split>.csv`` with ``Image_ID, Title, Caption, Sentiment, Emotion, Desire``.

    ``raw_text`` = title and caption joined by a newline (the caption is the post's image-side text),
    ``texts["title"]``, ``texts["caption"]``, ``texts["image"]`` = ``<Image_ID>.jpg``; the label is the
    ``target`` column (``sentiment``, ``emotion`` or ``desire``; names or indices).
    """
    if target not in MSED_LABELS:
        raise ConfigError(f"MSED target must be one of {sorted(MSED_LABELS)}, got {target!r}")
    directory = Path(directory)
    names = MSED_LABELS[target]
    splits: dict[str, list[Record]] = {}
    for split_name, stems in MSED_SPLITS.items():
        candidates = [p for s in stems for p in (directory / f"{s}.csv", directory / s / f"{s}.csv")]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise DataFileNotFoundError(f"MSED {split_name} split not found: looked for "
                                    f"{', '.join(str(p) for p in candidates)}")
        records = []
        for lineno, row in csv_rows(path):
            where = f"{path}:{lineno}"
            id_key = next((k for k in ("image_id", "id") if k in row), None)
            if id_key is None or target not in row:
                raise TaskFileError(f"{where}: needs columns image_id (or id) and {target}; has {sorted(row)}")
            title, caption = row.get("title", "").strip(), row.get("caption", "").strip()
            sample_id = row[id_key].strip()
            image = sample_id if Path(sample_id).suffix else f"{sample_id}.jpg"
            records.append(Record(sample_id, "\n".join(t for t in (title, caption) if t),
                                  label_index(row[target], names, where),
                                  {"title": title, "caption": caption, "image": image}))
        splits[split_name] = records
    with_images(splits, images_dir, name)
    return make_bundle(name, splits, names, {"source": str(directory), "format": "msed", "target": target},
                       family="msed")
