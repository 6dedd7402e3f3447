"""The convert job: any dataset :func:`mmaffect.data.registry.load_dataset` reads -> the native format.

Manifest options (``task``, ``metrics``, ``split_ratios``, ``split_seed``, ``group_by``,
``allow_outside``) go to :func:`mmaffect.data.formats.manifest.read_manifest`; the inferred label type
and a seeded split's recipe end up in the native dataset's provenance (``dataset.json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmaffect.data.bundle import DatasetBundle
from mmaffect.errors import ConfigError, DataFileNotFoundError

MANIFEST_OPTIONS = ("task", "metrics", "split_ratios", "split_seed", "group_by", "allow_outside")


def convert_dataset(source: str | Path, out_dir: str | Path, *, name: str | None = None,
                    data_root: str | Path | None = None, **manifest_options: Any) -> DatasetBundle:
    """Read ``source`` (an MMSA/MulT pickle, a manifest, a native directory or a dataset name) and write it
    as a native dataset at ``out_dir``; ``name`` renames it. Returns the bundle written.

    ``manifest_options`` (``None`` values dropped) apply to manifests only; given for anything else they
    are refused rather than ignored.
    """
    from mmaffect.data.native import write_native
    from mmaffect.data.registry import is_manifest, load_dataset

    unknown = sorted(set(manifest_options) - set(MANIFEST_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown convert options {unknown}; known: {list(MANIFEST_OPTIONS)}")
    options = {k: v for k, v in manifest_options.items() if v is not None and v is not False}
    if options and not is_manifest(source):
        raise ConfigError(f"{sorted(options)} apply to CSV/TSV/JSONL manifests only; {source} is not one")
    bundle = load_dataset(str(source), data_root=data_root, **options)
    if name:
        bundle.name = name
    write_native(bundle, Path(out_dir))
    return bundle


def ensure_native(dataset_dir: str | Path, source: str | None, data_root: str | Path | None) -> None:
    """Make sure ``dataset_dir`` is a native dataset: convert ``source`` into it when it is not one yet."""
    dataset_dir = Path(dataset_dir)
    if (dataset_dir / "dataset.json").exists():
        return
    if source is None:
        raise DataFileNotFoundError(f"{dataset_dir} is not a native dataset (no dataset.json); "
                                    f"pass --from PICKLE_OR_NAME to convert one first")
    convert_dataset(source, dataset_dir, data_root=data_root)
