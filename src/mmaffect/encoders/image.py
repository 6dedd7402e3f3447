"""Safe image loading: one function every image encoder reads its input with.

:func:`load_image` turns a file path, a PIL image or a ``uint8`` array into an 8-bit RGB PIL image:

- **Bounded size.** The pixel count ``width × height`` is read from the file's header before any pixel
  is decoded; above ``max_pixels`` (default :data:`DEFAULT_MAX_PIXELS`, 40 megapixels) the file is
  refused with a :class:`~mmaffect.errors.MediaError` naming the file and its size, so a decompression
  bomb (a small file that claims a huge image) never allocates memory. ``max_pixels=None`` lifts this
  bound; Pillow's own bound (``2 × PIL.Image.MAX_IMAGE_PIXELS``, about 179 megapixels) still applies
  and is reported the same way.
- **Clear errors.** A missing file raises :class:`~mmaffect.errors.DataFileNotFoundError`; a file that
  is not an image, is truncated or cannot be decoded raises :class:`~mmaffect.errors.MediaError` naming
  the file and the reason. Both are :class:`~mmaffect.errors.MMAffectError`, so a dataset job counts a
  failure per file by catching that one class.
- **Orientation.** The EXIF orientation tag is applied (:func:`PIL.ImageOps.exif_transpose`): the image
  comes out the way a viewer shows it.
- **First frame.** A multi-frame file (animated GIF, multi-page TIFF) gives its first frame.
- **Modes to RGB** (:func:`to_rgb`):

  ==========================  ============================================================================
  source mode                 conversion
  ==========================  ============================================================================
  ``RGB``                     unchanged (a copy)
  ``1``, ``L`` (grey)         the grey value repeated in R, G and B
  ``P`` (palette)             the palette's colours; a transparent palette entry is treated as alpha
  ``RGBA``, ``LA``, ``PA``…   alpha-composited over an opaque background (white by default):
                              ``out = α·colour + (1 − α)·background``
  ``CMYK``                    Pillow's conversion ``R = (255 − C)(255 − K) / 255`` etc., no colour profile
  ``YCbCr``, ``HSV``          Pillow's conversion
  ``I;16*`` (16-bit grey)     ``round(v / 257)``: 0…65535 mapped linearly onto 0…255, then grey
  ``I`` (32-bit integer)      as 16-bit when a value exceeds 255, else taken as 8-bit; clipped to 0…255
  ``F`` (32-bit float)        ``× 255`` when all values lie in [0, 1], else clipped to 0…255
  ==========================  ============================================================================

Arrays are taken as ``uint8`` ``[H, W]`` (grey), ``[H, W, 3]`` (RGB, not BGR) or ``[H, W, 4]`` (RGBA).
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from mmaffect.errors import DataFileNotFoundError, MediaError, MissingExtraError

if TYPE_CHECKING:
    from PIL.Image import Image

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest ``width × height`` accepted by default (40 megapixels, about 120 MB decoded as RGB)."""

WHITE = (255, 255, 255)
ImageSource = Union[str, "os.PathLike[str]", "Image", np.ndarray]
"""What the image encoders accept: a file path, a PIL image, or a ``uint8`` array (see module docs)."""

IN_MEMORY = "<in-memory image>"
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError)


def _pil() -> Any:
    try:
        from PIL import Image, ImageOps
    except ImportError as err:  # pragma: no cover - Pillow comes with matplotlib
        raise MissingExtraError("image loading", "image", "PIL") from err
    return Image, ImageOps


def source_name(source: ImageSource) -> str:
    """The file name used in messages: the path, or ``<in-memory image>``."""
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else IN_MEMORY


def check_pixel_count(width: int, height: int, max_pixels: int | None, name: str) -> None:
    """:class:`MediaError` naming ``name`` and its size when ``width × height > max_pixels``."""
    if max_pixels is not None and width * height > max_pixels:
        raise MediaError(f"{name}: image of {width}×{height} = {width * height:,} pixels exceeds the limit of "
                         f"{max_pixels:,} pixels (pass a larger max_pixels to accept it)")


def _from_16bit(values: np.ndarray) -> np.ndarray:
    return np.round(np.clip(values.astype(np.float64), 0, 65535) / 257.0).astype(np.uint8)


def _scaled_grey(image: "Image") -> np.ndarray:
    """8-bit grey values of an ``I;16*``, ``I`` or ``F`` image (rules in the module docs)."""
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        return _from_16bit(values)
    if image.mode == "I":
        return _from_16bit(values) if values.size and values.max() > 255 else np.clip(values, 0, 255).astype(np.uint8)
    values = values.astype(np.float64)  # mode F
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
        values = values * 255.0
    return np.round(np.clip(np.nan_to_num(values), 0, 255)).astype(np.uint8)


def to_rgb(image: "Image", *, background: tuple[int, int, int] = WHITE) -> "Image":
    """A new 8-bit RGB copy of ``image`` (conversions in the module docs); alpha composited over ``background``."""
    Image, _ = _pil()
    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_scaled_grey(image), mode="L").convert("RGB")
    has_alpha = "A" in mode or "a" in mode or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as err:
        raise MediaError(f"image mode {mode!r} cannot be converted to RGB: {err}") from None


def _from_array(array: np.ndarray) -> "Image":
    Image, _ = _pil()
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise MediaError(f"{IN_MEMORY}: expected a uint8 array [H, W], [H, W, 3] or [H, W, 4], "
                         f"got {array.dtype} {list(array.shape)}")
    mode = "L" if array.ndim == 2 else ("RGB" if array.shape[2] == 3 else "RGBA")
    return Image.fromarray(np.ascontiguousarray(array), mode=mode)


def _open_file(path: str, max_pixels: int | None, background: tuple[int, int, int]) -> "Image":
    Image, ImageOps = _pil()
    if not Path(path).is_file():
        raise DataFileNotFoundError(f"image not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                check_pixel_count(img.width, img.height, max_pixels, path)
                img.load()
                return to_rgb(ImageOps.exif_transpose(img), background=background)
    except MediaError:
        raise
    except Image.DecompressionBombError as err:
        raise MediaError(f"{path}: {err}") from None
    except Image.UnidentifiedImageError:
        raise MediaError(f"{path}: not an image file (no image format recognises it)") from None
    except _DECODE_ERRORS as err:
        raise MediaError(f"{path}: image cannot be decoded ({type(err).__name__}: {err})") from None


def load_image(source: ImageSource, *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               background: tuple[int, int, int] = WHITE) -> "Image":
    """The 8-bit RGB PIL image of ``source``: a path (decoded safely), a PIL image or a ``uint8`` array.

    Raises :class:`DataFileNotFoundError` for a missing file and :class:`MediaError` (naming the file)
    for an image over ``max_pixels``, a file that is not an image, a truncated or undecodable file.
    The returned image never shares memory with ``source``.
    """
    Image, ImageOps = _pil()
    if isinstance(source, (str, os.PathLike)):
        return _open_file(os.fspath(source), max_pixels, background)
    if isinstance(source, np.ndarray):
        image = _from_array(source)
    elif isinstance(source, Image.Image):
        image = source
    else:
        raise MediaError(f"expected an image path, a PIL image or a uint8 array, got {type(source).__name__}")
    check_pixel_count(image.width, image.height, max_pixels, IN_MEMORY)
    try:
        return to_rgb(ImageOps.exif_transpose(image), background=background)
    except _DECODE_ERRORS as err:
        raise MediaError(f"{IN_MEMORY}: image cannot be decoded ({type(err).__name__}: {err})") from None
