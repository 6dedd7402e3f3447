"""The extract_clip job: add CLIP image and text token matrices ``[N, n, c]`` to a native dataset (inputs of rd).

:func:`extract_image_text` adds ``<name>_image`` and ``<name>_text``
(:class:`mmaffect.encoders.clip.ClipTokenEncoder`), batched, with a progress bar, resumable
(:class:`mmaffect.jobs.resumable.ResumableArrays`). A missing or unreadable image is an error naming
the file, or with ``skip_missing`` a counted skip: the sample's image matrix is all zero with length 0
(masked out), and the count and ids are reported and kept in ``<dataset>/<name>_image.skipped.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmaffect.jobs.convert import ensure_native
from mmaffect.jobs.resumable import (
    ResumableArrays, check_output_name, progress_bar, remove_if_empty, write_json_atomic,
)


def extract_image_text(dataset_dir: str | Path, *, encoder: str, images_dir: str | Path | None = None,
                       name: str = "clip", field: str = "raw_text", rows: int = 49, columns: int = 64,
                       max_tokens: int = 77, batch_size: int = 32, skip_missing: bool = False,
                       source: str | None = None, data_root: str | None = None,
                       progress: bool = True, allow_outside: bool = False) -> dict[str, int]:
    """Add ``<name>_image`` and ``<name>_text`` ``[N, n, c]`` to the native dataset at ``dataset_dir``.

    Returns ``{split: number of skipped images}``. The names are checked before any work; relative image
    paths leading out of ``images_dir`` are refused unless ``allow_outside``.
    """
    from mmaffect.data.fields import field_texts
    from mmaffect.data.images import image_paths
    from mmaffect.data.native import add_modality, read_native
    from mmaffect.encoders.clip import ClipTokenEncoder, ImageReadError, read_image

    dataset_dir = Path(dataset_dir)
    image_name, text_name = f"{name}_image", f"{name}_text"
    check_output_name(dataset_dir, name, [image_name, text_name, f"{image_name}.skipped.json"])
    ensure_native(dataset_dir, source, data_root)
    bundle = read_native(dataset_dir)
    if image_name in bundle.modalities and text_name in bundle.modalities:
        print(f"{dataset_dir}: modalities {image_name!r} and {text_name!r} already present; nothing to do")
        return {}
    if image_name in bundle.modalities or text_name in bundle.modalities:
        raise ValueError(f"{dataset_dir}: only one of {image_name!r}, {text_name!r} is present; choose another --name")
    inputs = {}
    for split_name, split in bundle.splits.items():
        where = f"{dataset_dir}, split {split_name!r}"
        inputs[split_name] = (image_paths(split, images_dir, where, allow_outside=allow_outside),
                              field_texts(split, field, where=where))
    clip = ClipTokenEncoder(encoder, rows=rows, columns=columns, max_tokens=max_tokens)
    settings = {"encoder": str(clip.path), "field": field, "rows": rows, "columns": columns,
                "max_tokens": clip.max_tokens, "images_dir": str(images_dir), "skip_missing": skip_missing}
    partial = dataset_dir / ".partial"
    writers: dict[str, ResumableArrays] = {}
    skipped: dict[str, list[str]] = {}
    with progress_bar(progress) as bar:
        for split_name, split in bundle.splits.items():
            paths, texts = inputs[split_name]
            n = len(split)
            shapes = {image_name: (n, rows, columns), text_name: (n, rows, columns), f"{image_name}.lengths": (n,)}
            writer = writers[split_name] = ResumableArrays(partial, name, split_name, shapes, settings,
                                                           {f"{image_name}.lengths": np.int64})
            skipped[split_name] = list(writer.notes.get("skipped", []))
            task = bar.add_task(f"{name} {split_name}", total=n, completed=writer.done)
            for start in range(writer.done, n, batch_size):
                stop = min(start + batch_size, n)
                images = []
                for i in range(start, stop):
                    try:
                        images.append(read_image(paths[i]))
                    except ImageReadError as err:
                        if not skip_missing:
                            raise ImageReadError(f"{err} (split {split_name!r}, sample {split.ids[i]!r}); pass "
                                                 f"--skip-missing to leave such samples without an image") from None
                        images.append(None)
                        skipped[split_name].append(split.ids[i])
                image_m, text_m = clip.encode(images, texts[start:stop])
                lengths = np.array([rows if img is not None else 0 for img in images], dtype=np.int64)
                writer.write(start, {image_name: image_m, text_name: text_m, f"{image_name}.lengths": lengths},
                             {"skipped": skipped[split_name]})
                bar.update(task, completed=stop)
    arrays = {s: np.asarray(w.arrays[image_name]) for s, w in writers.items()}
    add_modality(dataset_dir, image_name, arrays,
                 {s: np.asarray(w.arrays[f"{image_name}.lengths"]) for s, w in writers.items()})
    add_modality(dataset_dir, text_name, {s: np.asarray(w.arrays[text_name]) for s, w in writers.items()},
                 {s: np.full(len(bundle.splits[s]), rows, dtype=np.int64) for s in writers})
    counts = {s: len(ids) for s, ids in skipped.items()}
    if any(counts.values()):
        write_json_atomic(dataset_dir / f"{image_name}.skipped.json", skipped)
    for w in writers.values():
        w.remove()
    remove_if_empty(partial)
    total = sum(counts.values())
    print(f"added {image_name!r} and {text_name!r} ({rows}×{columns}) to {dataset_dir}"
          + (f"; skipped {total} missing/unreadable images ({', '.join(f'{s}: {c}' for s, c in counts.items())}), "
             f"listed in {dataset_dir / f'{image_name}.skipped.json'}" if total else ""))
    return counts
