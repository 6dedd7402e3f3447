"""The one image-path resolver of the package: image paths of a dataset -> files to open."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def image_paths(split: Any, images_dir: str | Path | None, where: str) -> list[str]:
    """``texts["image"]`` of a split, joined to ``images_dir`` when relative."""
    if "image" not in split.texts:
        raise KeyError(f"{where}: no image paths (text field 'image'); this dataset has fields "
                       f"{sorted(split.texts) or 'none'}")
    root = Path(images_dir) if images_dir else None
    if root is not None and not root.is_dir():
        raise FileNotFoundError(f"images directory {root} does not exist")
    return [str(root / p) if root is not None and not Path(p).is_absolute() else str(p) for p in split.texts["image"]]
