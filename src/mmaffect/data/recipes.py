"""Recipes: how each modality (and text field) of a native dataset was made, and text fields added in place.

A recipe is a JSON object: the encoder's own :meth:`recipe` (encoder name, package versions, weight
sha256, model parameters) plus the job's parameters (e.g. Whisper's ``window``, ``max_seconds``, the
input column). Recipes live in ``dataset.json`` under ``provenance.recipes.<modality or field>``, so they
travel with the dataset through every reader and writer that keeps the provenance (``read_native``
returns it in ``bundle.provenance``; ``write_native`` writes it back), and training copies the recipes
of the modalities it used into ``checkpoint.json`` (:func:`recipes_for`).

:func:`record_recipe` is written *before* the job's commit point (``add_modality``): a recipe without its
modality is inert (it is overwritten by the next run), a modality never lacks its recipe.

:func:`recipe_differences` lists what differs between a stored recipe and the one the installed encoders
would produce now; :func:`check_recipe` turns a difference into an :class:`~mmaffect.errors.EncoderError`
naming each key, stored and installed value.

:func:`add_text_fields` adds per-sample text fields (e.g. Whisper's ``transcript``) to the splits'
``index.jsonl``: every new index is written under a temporary name first, then the files are renamed
into place and ``dataset.json`` (new checksums, field list) is replaced last.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from mmaffect.errors import DataError, EncoderError
from mmaffect.io import atomic_write_text, temporary_path

RECIPES_KEY = "recipes"


def _meta(dataset_dir: Path) -> dict[str, Any]:
    from mmaffect.data.native import _read_meta

    return _read_meta(Path(dataset_dir))


def _write_meta(dataset_dir: Path, meta: Mapping[str, Any]) -> None:
    atomic_write_text(Path(dataset_dir) / "dataset.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def jsonable(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """A recipe as plain JSON values (tuples become lists), as it is stored."""
    return json.loads(json.dumps(dict(recipe)))


def record_recipe(dataset_dir: str | Path, name: str, recipe: Mapping[str, Any] | None) -> None:
    """Store (or with ``None`` forget) the recipe of modality or text field ``name`` in ``dataset.json``."""
    meta = _meta(Path(dataset_dir))
    provenance = meta.setdefault("provenance", {})
    if not isinstance(provenance, dict):
        raise DataError(f"{dataset_dir}/dataset.json: 'provenance' is not an object")
    recipes = provenance.setdefault(RECIPES_KEY, {})
    if recipe is None:
        recipes.pop(name, None)
    else:
        recipes[name] = jsonable(recipe)
    _write_meta(Path(dataset_dir), meta)


def dataset_recipes(bundle: Any) -> dict[str, dict[str, Any]]:
    """Every recipe a loaded dataset carries (``bundle.provenance["recipes"]``)."""
    recipes = (getattr(bundle, "provenance", None) or {}).get(RECIPES_KEY) or {}
    return dict(recipes) if isinstance(recipes, dict) else {}


def recipes_for(bundle: Any, modalities: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """The recipes of ``modalities`` (default: the bundle's) and of the text fields a recipe made
    (``transcript``), as training copies them into ``checkpoint.json``. Modalities without a recipe
    (features from a pickle) are simply absent."""
    recipes = dataset_recipes(bundle)
    wanted = list(modalities if modalities is not None else getattr(bundle, "modalities", []))
    out = {m: recipes[m] for m in wanted if m in recipes}
    for name, recipe in recipes.items():
        if isinstance(recipe, dict) and recipe.get("kind") == "text_field":
            out.setdefault(name, recipe)
    return out


def recipe_differences(stored: Mapping[str, Any], installed: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``key: stored X, installed Y`` for every key whose value differs (nested objects compared per key)."""
    stored, installed = jsonable(stored), jsonable(installed)
    out = []
    for key in sorted(set(stored) | set(installed)):
        a, b = stored.get(key, "<absent>"), installed.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += recipe_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: stored {a!r}, installed {b!r}")
    return out


def check_recipe(name: str, stored: Mapping[str, Any], installed: Mapping[str, Any], *,
                 ignore: Sequence[str] = ()) -> None:
    """Raise :class:`EncoderError` naming every difference between the stored and the installed recipe.

    ``ignore``: top-level keys that do not change the features (e.g. a weights file's location)."""
    keep = lambda r: {k: v for k, v in r.items() if k not in ignore}  # noqa: E731
    differences = recipe_differences(keep(stored), keep(installed))
    if differences:
        raise EncoderError(f"modality {name!r}: the installed encoders cannot reproduce its recipe ("
                           + "; ".join(differences) + "); install the versions and weights it names, or "
                           "extract the training data again with the installed ones")


def add_text_fields(dataset_dir: str | Path, fields: Mapping[str, Mapping[str, Sequence[str]]], *,
                    raw_text: Mapping[str, Sequence[str]] | None = None) -> None:
    """Add text fields to every split: ``fields[split][field]`` has one string per sample (index order).

    ``raw_text[split]`` (optional) replaces the splits' ``raw_text`` (used when the data had none).
    """
    from mmaffect.data.native_checks import file_stamps

    dataset_dir = Path(dataset_dir)
    meta = _meta(dataset_dir)
    if set(fields) != set(meta["splits"]):
        raise DataError(f"{dataset_dir}: text fields must cover splits {sorted(meta['splits'])}, got {sorted(fields)}")
    pending: list[tuple[Path, Path]] = []
    try:
        for split_name, info in meta["splits"].items():
            path = dataset_dir / split_name / "index.jsonl"
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            new_fields = fields[split_name]
            for key, values in new_fields.items():
                if len(values) != len(rows):
                    raise DataError(f"{path}: {len(rows)} samples but {len(values)} values of text field {key!r}")
            replaced = raw_text.get(split_name) if raw_text else None
            for i, row in enumerate(rows):
                row["texts"] = {**row.get("texts", {}), **{k: str(v[i]) for k, v in new_fields.items()}}
                if replaced is not None:
                    row["raw_text"] = str(replaced[i])
            tmp = temporary_path(path)
            rel = f"{split_name}/index.jsonl"
            meta["checksums"][rel] = atomic_write_text(
                tmp, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            pending.append((tmp, path))
            info["texts"] = list(dict.fromkeys([*info.get("texts", []), *new_fields]))
            if replaced is not None:
                info["has_raw_text"] = True
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in pending:  # the window between these renames and dataset.json is a few system calls
        os.replace(tmp, path)
    meta.setdefault("stamps", {}).update(file_stamps(dataset_dir, [f"{s}/index.jsonl" for s in meta["splits"]]))
    _write_meta(dataset_dir, meta)
