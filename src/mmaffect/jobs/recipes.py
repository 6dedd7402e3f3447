"""Recipes of text modalities, and encoders rebuilt from a stored recipe (for prediction on raw inputs).

A text modality's recipe (:func:`text_recipe`): the model as asked (name or folder), the sha256 of its
weights file, the library versions, and the job's parameters (``field``, ``pooling``, ``max_tokens``).
Media recipes are made by :meth:`mmaffect.jobs.media_encoding.MediaEncoding.recipe`.

:func:`encoder_for_recipe` builds the encoder a recipe names with the recipe's own parameters and checks
that the installed encoder reproduces it (:func:`mmaffect.data.recipes.check_recipe`: every differing
key is named in the :class:`~mmaffect.errors.EncoderError`).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

from mmaffect.errors import EncoderError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: Keys that say where things are, not what they compute: never compared.
LOCATION_KEYS = ("weights_expected_sha256",)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def text_recipe(model: str, encoder: Any, *, field: str, pooling: str, max_tokens: int) -> dict[str, Any]:
    """The recipe of a text modality made by ``encoder`` (:class:`mmaffect.encoders.text.TextEncoder`)."""
    from mmaffect.io import file_sha256

    folder = Path(str(encoder.path))
    weights = next((folder / f for f in WEIGHT_FILES if (folder / f).is_file()), None)
    return {"encoder": "text", "encoder_name": "text", "model": model,
            "weights_sha256": file_sha256(weights) if weights is not None else None,
            "sentence_transformers": _version("sentence-transformers"), "transformers": _version("transformers"),
            "dim": int(encoder.dim), "job": {"field": field, "pooling": pooling, "max_tokens": int(max_tokens)}}


def encoder_for_recipe(name: str, recipe: dict[str, Any], *, threads: int = 1) -> Any:
    """The installed encoder that reproduces ``recipe`` (modality ``name``), or an EncoderError naming the difference.

    Returns a :class:`~mmaffect.jobs.media_encoding.MediaEncoding` for media recipes, a
    :class:`~mmaffect.encoders.text.TextEncoder` for text recipes.
    """
    from mmaffect.data.recipes import check_recipe

    kind = recipe.get("encoder_name", recipe.get("encoder"))
    if kind == "text":
        from mmaffect.encoders.text import TextEncoder

        job = recipe.get("job") or {}
        encoder = TextEncoder(recipe["model"], pooling=job.get("pooling", "mean"), max_tokens=job.get("max_tokens", 64))
        installed = text_recipe(recipe["model"], encoder, field=job.get("field", "raw_text"),
                                pooling=job.get("pooling", "mean"), max_tokens=job.get("max_tokens", 64))
        check_recipe(name, recipe, installed, ignore=LOCATION_KEYS)
        return encoder
    from mmaffect.jobs.media_encoding import MEDIA_ENCODERS, MediaEncoding, MediaSettings

    if kind not in MEDIA_ENCODERS:
        raise EncoderError(f"modality {name!r}: recipe of unknown encoder {kind!r}; this installation knows "
                           f"text and {', '.join(MEDIA_ENCODERS)}")
    media = MediaEncoding(MediaSettings.from_recipe(recipe), threads=threads)
    installed = media.recipe()
    check_recipe(name, {k: v for k, v in recipe.items() if k not in ("kind", "made_by")}, installed,
                 ignore=LOCATION_KEYS)
    return media
