"""The extract job: add a text-embedding modality to a native dataset (batched, progress bar, resumable).

Rows are written through :class:`mmaffect.jobs.resumable.ResumableArrays` into
``<dataset>/.partial/<name>.<split>.npy`` with the number of finished rows and the settings (encoder,
field, pooling, max_tokens) recorded after every batch; a re-run with the same settings continues from
there. When every split is complete the modality is added to the dataset atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmaffect.errors import ConfigError
from mmaffect.jobs.convert import ensure_native
from mmaffect.jobs.resumable import (
    ResumableArrays, check_completed, check_output_name, progress_bar, record_settings, remove_if_empty,
)


def extract_text_modality(dataset_dir: Path, *, encoder: str = "all-MiniLM-L6-v2", name: str = "text_minilm",
                          pooling: str = "mean", max_tokens: int = 64, batch_size: int = 64,
                          source: str | None = None, data_root: str | None = None, field: str = "raw_text",
                          replace: bool = False) -> None:
    """Add modality ``name`` = ``encoder(field)`` to the native dataset at ``dataset_dir``.

    ``field`` is ``raw_text`` or a key of the splits' ``texts``; ``a+b`` encodes the fields joined by
    the encoder's separator token (see :mod:`mmaffect.data.fields`). The name is checked before any
    work; a modality ``name`` completed with other settings is refused unless ``replace`` (then it is
    computed again); an unfinished one made with other settings is started over.
    """
    from mmaffect.data.fields import field_texts
    from mmaffect.data.native import add_modality, read_native, remove_modality
    from mmaffect.data.recipes import record_recipe
    from mmaffect.encoders.text import TextEncoder
    from mmaffect.jobs.recipes import text_recipe

    dataset_dir = Path(dataset_dir)
    check_output_name(dataset_dir, name, [f".partial/{name}.lengths"])
    if batch_size < 1 or max_tokens < 1:
        raise ConfigError(f"batch size and max tokens must be >= 1, got {batch_size} and {max_tokens}")
    ensure_native(dataset_dir, source, data_root)
    bundle = read_native(dataset_dir)
    request = {"encoder": encoder, "field": field, "pooling": pooling, "max_tokens": max_tokens}
    if replace and name in bundle.modalities:
        remove_modality(dataset_dir, name)
        record_settings(dataset_dir, name, None)
        bundle = read_native(dataset_dir)
    if check_completed(dataset_dir, name, request, name in bundle.modalities):
        print(f"{dataset_dir}: modality {name!r} already present with these settings; nothing to do")
        return
    for split_name, split in bundle.splits.items():
        field_texts(split, field, where=f"{dataset_dir}, split {split_name!r}")  # fails early on a bad field
    text_encoder = TextEncoder(encoder, pooling=pooling, max_tokens=max_tokens)  # type: ignore[arg-type]
    sep = f" {text_encoder.sep_token} " if text_encoder.sep_token else "\n"
    settings = {"encoder": str(text_encoder.path), "field": field, "pooling": pooling, "max_tokens": max_tokens}
    partial = dataset_dir / ".partial"
    lengths_name = f"{name}.lengths"
    writers: dict[str, ResumableArrays] = {}
    with progress_bar() as bar:
        for split_name, split in bundle.splits.items():
            texts = field_texts(split, field, sep=sep)
            n = len(texts)
            writer = writers[split_name] = ResumableArrays(
                partial, name, split_name, {name: (n, text_encoder.steps, text_encoder.dim), lengths_name: (n,)},
                settings, {lengths_name: np.int64})
            task = bar.add_task(f"{name} {split_name}", total=n, completed=writer.done)
            for start in range(writer.done, n, batch_size):
                stop = min(start + batch_size, n)
                feats, length = text_encoder.encode(texts[start:stop])
                writer.write(start, {name: feats, lengths_name: length})
                bar.update(task, completed=stop)
    record_settings(dataset_dir, name, request)  # before the commit point: a present modality always has it
    record_recipe(dataset_dir, name, text_recipe(encoder, text_encoder, field=field, pooling=pooling,
                                                 max_tokens=max_tokens))
    add_modality(dataset_dir, name, {s: np.asarray(w.arrays[name]) for s, w in writers.items()},
                 {s: np.asarray(w.arrays[lengths_name]) for s, w in writers.items()})
    for w in writers.values():
        w.remove()
    remove_if_empty(partial)
    print(f"added modality {name!r} ({text_encoder.steps}×{text_encoder.dim}) to {dataset_dir}")
