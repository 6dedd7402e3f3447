"""A run folder belongs to one configuration on one dataset: same work resumes, other work is refused.

``run.json`` records what the folder's seeds were trained with: the resolved configuration without
the seed list and the execution settings (``devices``, ``strategy``), and the dataset's identity
(name, family, task, modality dims, split sizes). A later ``train --out`` into the folder

* with the same record resumes: every ``seed_<s>/metrics.json`` (written atomically after the
  checkpoint, so it marks a finished seed) is read back instead of trained again;
* with another record is refused by :class:`RunFolderError` naming the keys that differ
  (``replace=True`` empties the folder first);
* into a non-empty folder without ``run.json`` is refused (it holds something else).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mmaffect.data.bundle import DatasetBundle
from mmaffect.errors import RunFolderError
from mmaffect.io import atomic_write_text
from mmaffect.training.config import RunConfig
from mmaffect.training.fit import SeedResult

RECORD = "run.json"
_NOT_IDENTITY = ("seeds", "devices", "strategy")


def dataset_identity(bundle: DatasetBundle) -> dict[str, Any]:
    """What identifies the data of a run: name, family, task, modality dims and split sizes."""
    return {"name": bundle.name, "family": bundle.family, "task": bundle.task.model_dump(),
            "dims": bundle.dims(), "splits": {k: len(v) for k, v in bundle.splits.items()}}


def run_record(config: RunConfig, bundle: DatasetBundle) -> dict[str, Any]:
    """The identity of a run: its configuration (seeds and execution settings aside) and its data."""
    settings = {k: v for k, v in config.model_dump(mode="json").items() if k not in _NOT_IDENTITY}
    return json.loads(json.dumps({"config": settings, "dataset": dataset_identity(bundle)}))  # as stored


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    return {prefix: value}


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every dotted key whose value differs."""
    a, b = _flatten(old), _flatten(new)
    return [f"{key}: {a.get(key, '<absent>')!r} -> {b.get(key, '<absent>')!r}"
            for key in sorted(set(a) | set(b)) if a.get(key, "<absent>") != b.get(key, "<absent>")]


def claim_run_folder(directory: Path, config: RunConfig, bundle: DatasetBundle, *, replace: bool = False) -> None:
    """Create ``directory`` for this run, or check that the run already in it is this run (module docstring)."""
    record = run_record(config, bundle)
    path = directory / RECORD
    if directory.exists() and not directory.is_dir():
        raise RunFolderError(f"--out {directory}: exists and is not a folder")
    if replace and directory.is_dir() and any(directory.iterdir()):
        if not path.is_file() and not (directory / "config.yaml").is_file():
            raise RunFolderError(f"--out {directory}: --replace only empties a run folder; this one holds other files")
        shutil.rmtree(directory)
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise RunFolderError(f"{path}: unreadable ({err}); choose another --out or pass --replace") from None
        changed = differences(old, record)
        if changed:
            raise RunFolderError(f"--out {directory} holds a run of another configuration or dataset; differing: "
                                 f"{'; '.join(changed[:8])}{' ...' if len(changed) > 8 else ''}. "
                                 f"Choose another --out, or pass --replace to discard it")
        return
    if directory.is_dir() and any(directory.iterdir()):
        raise RunFolderError(f"--out {directory}: not empty and not a run folder (no {RECORD}); "
                             f"choose another --out")
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=2))


def finished_seed(directory: Path, seed: int) -> SeedResult | None:
    """The result of a seed already trained in ``directory`` (its ``metrics.json``), else None."""
    path = directory / "metrics.json"
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        return SeedResult(seed, directory, saved["metrics"], saved["best_epoch"], saved["epochs"],
                          saved["train_seconds"], saved["train_samples_per_second"], saved.get("history", []))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # damaged: train this seed again
