"""Feature extraction into the native format: batched, with a progress bar, resumable.

Rows are written into ``<dataset>/.partial/<name>.<split>.npy`` (a memory-mapped ``.npy``) with the
number of finished rows recorded after every batch in a JSON beside it; a re-run continues from there.
When every split is complete the modality is added to the dataset atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mmaffect.features.text import TextEncoder
from mmaffect.io import atomic_write_json


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


def _ensure_native(dataset_dir: Path, source: str | None, data_root: str | None) -> None:
    if (dataset_dir / "dataset.json").exists():
        return
    if source is None:
        raise FileNotFoundError(f"{dataset_dir} is not a native dataset (no dataset.json); "
                                f"pass --from PICKLE_OR_NAME to convert one first")
    from mmaffect.data.native import write_native
    from mmaffect.data.registry import load_dataset

    write_native(load_dataset(source, data_root=data_root), dataset_dir)


def extract_text_modality(dataset_dir: Path, *, encoder: str = "all-MiniLM-L6-v2", name: str = "text_minilm",
                          pooling: str = "mean", max_tokens: int = 64, batch_size: int = 64,
                          source: str | None = None, data_root: str | None = None, field: str = "raw_text") -> None:
    """Add modality ``name`` = ``encoder(field)`` to the native dataset at ``dataset_dir``.

    ``field`` is ``raw_text`` or a key of the splits' ``texts``; ``a+b`` encodes the fields joined by
    the encoder's separator token (see :mod:`mmaffect.features.fields`).
    """
    from mmaffect.features.fields import field_texts

    from mmaffect.data.native import add_modality, read_native

    dataset_dir = Path(dataset_dir)
    _ensure_native(dataset_dir, source, data_root)
    bundle = read_native(dataset_dir)
    if name in bundle.modalities:
        print(f"{dataset_dir}: modality {name!r} already present; nothing to do")
        return
    for split_name, split in bundle.splits.items():
        field_texts(split, field, where=f"{dataset_dir}, split {split_name!r}")  # fails early on a bad field
    text_encoder = TextEncoder(encoder, pooling=pooling, max_tokens=max_tokens)  # type: ignore[arg-type]
    sep = f" {text_encoder.sep_token} " if text_encoder.sep_token else "\n"
    partial = dataset_dir / ".partial"
    partial.mkdir(exist_ok=True)
    arrays, lengths = {}, {}
    with _progress() as progress:
        for split_name, split in bundle.splits.items():
            arrays[split_name], lengths[split_name] = _extract_split(
                text_encoder, field_texts(split, field, sep=sep), partial / f"{name}.{split_name}", batch_size, progress,
                f"{name} {split_name}")
    add_modality(dataset_dir, name, arrays, lengths)
    for f in partial.glob(f"{name}.*"):
        f.unlink()
    if not any(partial.iterdir()):
        partial.rmdir()
    print(f"added modality {name!r} ({text_encoder.steps}×{text_encoder.dim}) to {dataset_dir}")


def _extract_split(encoder: TextEncoder, texts: list[str], stem: Path, batch_size: int, progress: Progress,
                   label: str) -> tuple[np.ndarray, np.ndarray]:
    n = len(texts)
    data_path, len_path, state_path = (stem.parent / f"{stem.name}{s}" for s in (".npy", ".lengths.npy", ".json"))
    done = json.loads(state_path.read_text())["done"] if state_path.exists() and data_path.exists() else 0
    mode = "r+" if done else "w+"
    data = np.lib.format.open_memmap(data_path, mode=mode, dtype=np.float32, shape=(n, encoder.steps, encoder.dim))
    lens = np.lib.format.open_memmap(len_path, mode=mode, dtype=np.int64, shape=(n,))
    task = progress.add_task(label, total=n, completed=done)
    for start in range(done, n, batch_size):
        stop = min(start + batch_size, n)
        feats, length = encoder.encode(texts[start:stop])
        data[start:stop] = feats
        lens[start:stop] = length
        data.flush(); lens.flush()
        atomic_write_json(state_path, {"done": stop})
        progress.update(task, completed=stop)
    return np.asarray(data), np.asarray(lens)
