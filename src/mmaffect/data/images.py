"""The one image-path resolver of the package: the image paths a dataset records -> files to open.

A dataset keeps its image paths in ``texts["image"]`` as the task file or manifest wrote them
(usually relative names). :func:`join_image_paths` joins relative paths to an images folder (absolute
paths are kept); :func:`resolve_images` also requires every file to exist (readers, when given an
images folder); :func:`image_paths` reads a split's paths for a job that opens them (a missing file is
then the job's decision: an error or a counted skip); :func:`check_images_exist` is the check alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from mmaffect.errors import DataFileNotFoundError

IMAGE_ALTERNATIVE = ("without the images, use precomputed descriptions instead: "
                     "`mmaffect describe ... --describer file --descriptions DESCRIPTIONS.jsonl` "
                     "(or `--describer attributes` where the dataset ships attribute words)")


class MissingImagesError(DataFileNotFoundError):
    """Images a step needs are not on disk; the message says which and what to use instead."""


def join_image_paths(paths: Sequence[str], images_dir: str | Path | None) -> list[str]:
    """``paths`` with every relative one joined to ``images_dir``; unchanged without ``images_dir``."""
    if not images_dir:
        return [str(p) for p in paths]
    root = Path(images_dir)
    return [str(p) if Path(p).is_absolute() else str(root / p) for p in paths]


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
    resolved = join_image_paths(paths, root)
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


def image_paths(split: Any, images_dir: str | Path | None, where: str) -> list[str]:
    """``texts["image"]`` of a split, joined to ``images_dir`` when relative (files not checked)."""
    if "image" not in split.texts:
        raise KeyError(f"{where}: no image paths (text field 'image'); this dataset has fields "
                       f"{sorted(split.texts) or 'none'}")
    if images_dir and not Path(images_dir).is_dir():
        raise DataFileNotFoundError(f"images directory {images_dir} does not exist")
    return join_image_paths(split.texts["image"], images_dir)
