"""The convert job: any dataset :func:`mmaffect.data.registry.load_dataset` reads -> the native format."""

from __future__ import annotations

from pathlib import Path

from mmaffect.data.bundle import DatasetBundle
from mmaffect.errors import DataFileNotFoundError


def convert_dataset(source: str | Path, out_dir: str | Path, *, name: str | None = None,
                    data_root: str | Path | None = None) -> DatasetBundle:
    """Read ``source`` (an MMSA/MulT pickle, a manifest, a native directory or a dataset name) and write it
    as a native dataset at ``out_dir``; ``name`` renames it. Returns the bundle written."""
    from mmaffect.data.native import write_native
    from mmaffect.data.registry import load_dataset

    bundle = load_dataset(str(source), data_root=data_root)
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
