"""The one image-path resolver of the package: the image paths a dataset records -> files to open.

A dataset keeps its image paths in ``texts["image"]`` as the task file or manifest wrote them
(usually relative names). :func:`join_image_paths` joins relative paths to an images folder (absolute
paths are kept); :func:`resolve_images` also requires every file to exist (readers, when given an
images folder); :func:`image_paths` reads a split's paths for a job that opens them (a missing file is
then the job's decision: an error or a counted skip); :func:`check_images_exist` is the check alone.

:func:`media_path` is the gate every media path of a manifest (image, audio, video) passes when read: a
path must stay inside its folder (``--images-dir``, else the manifest's folder): an absolute path or one
whose ``..`` parts climb out is refused naming the file and line, unless explicitly allowed
(``allow_outside=True``, ``--allow-outside-paths``). :func:`join_image_paths` applies the same rule to
the relative paths it joins.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Any, Sequence

from mmaffect.errors import DataError, DataFileNotFoundError

ALLOW_OUTSIDE_HINT = "pass allow_outside=True (--allow-outside-paths) if that is intended"

IMAGE_ALTERNATIVE = ("without the images, use precomputed descriptions instead: "
                     "`mmaffect describe ... --describer file --descriptions DESCRIPTIONS.jsonl` "
                     "(or `--describer attributes` where the dataset ships attribute words)")


class MissingImagesError(DataFileNotFoundError):
    """Images a step needs are not on disk; the message says which and what to use instead."""


def escapes(path: str, root: str | Path) -> bool:
    """True when ``path`` leads out of ``root`` (lexically): relative with ``..`` parts that climb out, or
    absolute and not under ``root`` (an absolute path inside ``root``, as a converted dataset stores it,
    stays inside)."""
    if not path:
        return False
    base = os.path.normpath(os.path.abspath(str(root)))
    if PurePath(path).is_absolute() or os.path.isabs(path) or PurePath(path).drive:
        joined = os.path.normpath(path)
    else:
        joined = os.path.normpath(os.path.join(base, path))
    try:
        return os.path.commonpath([base, joined]) != base
    except ValueError:  # different drives
        return True


def media_path(value: str, root: str | Path, where: str, *, allow_outside: bool = False) -> str:
    """``value`` (a manifest's image/audio/video cell at ``where``) if it stays inside ``root``, else a DataError."""
    if not allow_outside and escapes(value, root):
        kind = "is absolute" if PurePath(value).is_absolute() or os.path.isabs(value) else f"leads out of {root}"
        raise DataError(f"{where}: media path {value!r} {kind}; media paths must stay inside the images/manifest "
                        f"folder {root} ({ALLOW_OUTSIDE_HINT})")
    return value


def join_image_paths(paths: Sequence[str], images_dir: str | Path | None, *,
                     allow_outside: bool = False) -> list[str]:
    """``paths`` with every relative one joined to ``images_dir``; unchanged without ``images_dir``.

    A relative path whose ``..`` parts climb out of ``images_dir`` is refused unless ``allow_outside``;
    absolute paths (as a reader resolved them) are kept.
    """
    if not images_dir:
        return [str(p) for p in paths]
    root = Path(images_dir)
    out = []
    for i, p in enumerate(paths):
        if Path(p).is_absolute():
            out.append(str(p))
            continue
        if not allow_outside and escapes(str(p), root):
            raise DataError(f"image path {p!r} (row {i}) leads out of {root}; {ALLOW_OUTSIDE_HINT}")
        out.append(str(root / p))
    return out


def resolve_images(paths: Sequence[str], images_dir: str | Path | None, *, dataset: str,
                   allow_outside: bool = False) -> list[str]:
    """``paths`` joined to ``images_dir``; every file must exist, else :class:`MissingImagesError`.

    Without ``images_dir`` the paths are returned as they are (relative names from the task file), and
    nothing is checked: only steps that read pixels need the images.
    """
    if images_dir is None:
        return list(paths)
    root = Path(images_dir)
    if not root.is_dir():
        raise MissingImagesError(f"{dataset}: images directory {root} does not exist; {IMAGE_ALTERNATIVE}")
    resolved = join_image_paths(paths, root, allow_outside=allow_outside)
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


def image_paths(split: Any, images_dir: str | Path | None, where: str, *, allow_outside: bool = False) -> list[str]:
    """``texts["image"]`` of a split, joined to ``images_dir`` when relative (files not checked)."""
    if "image" not in split.texts:
        raise KeyError(f"{where}: no image paths (text field 'image'); this dataset has fields "
                       f"{sorted(split.texts) or 'none'}")
    if images_dir and not Path(images_dir).is_dir():
        raise DataFileNotFoundError(f"images directory {images_dir} does not exist")
    return join_image_paths(split.texts["image"], images_dir, allow_outside=allow_outside)
