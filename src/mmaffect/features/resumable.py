"""Resumable row-by-row writing of several arrays (one split of a feature computation).

The arrays live as memory-mapped ``.npy`` files ``<partial>/<name>.<split>.npy``; after every batch
the arrays are flushed and ``<partial>/<job>.<split>.json`` records the number of finished rows, the
settings that determine the output and any per-job notes (e.g. skipped samples). A new writer with the
same settings continues where the last one stopped; different settings start over.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from mmaffect.io import atomic_write_json


def write_json_atomic(path: Path, data: Any) -> None:
    """``json.dump`` to a temporary file beside ``path``, then rename it into place."""
    atomic_write_json(path, data, indent=2)


class ResumableArrays:
    """Named arrays of one split, written in row blocks, resumable after an interruption."""

    def __init__(self, partial: Path, job: str, split: str, shapes: Mapping[str, tuple[int, ...]],
                 settings: Mapping[str, Any], dtypes: Mapping[str, Any] | None = None) -> None:
        partial.mkdir(parents=True, exist_ok=True)
        self.paths = {name: partial / f"{name}.{split}.npy" for name in shapes}
        self.state_path = partial / f"{job}.{split}.json"
        self.settings = json.loads(json.dumps(dict(settings)))
        state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        resume = state.get("settings") == self.settings and all(p.exists() for p in self.paths.values())
        self.done = int(state.get("done", 0)) if resume else 0
        self.notes: dict[str, Any] = dict(state.get("notes", {})) if resume else {}
        mode = "r+" if self.done else "w+"
        dtypes = dtypes or {}
        self.arrays = {name: np.lib.format.open_memmap(self.paths[name], mode=mode,
                                                       dtype=dtypes.get(name, np.float32), shape=tuple(shape))
                       for name, shape in shapes.items()}

    def write(self, start: int, rows: Mapping[str, np.ndarray], notes: Mapping[str, Any] | None = None) -> None:
        """Store ``rows[name]`` at ``start:start + len``, flush, then record the progress (the commit point)."""
        stop = start
        for name, value in rows.items():
            stop = start + len(value)
            self.arrays[name][start:stop] = value
        for arr in self.arrays.values():
            arr.flush()
        if notes:
            self.notes.update(notes)
        write_json_atomic(self.state_path, {"done": stop, "settings": self.settings, "notes": self.notes})
        self.done = stop

    def remove(self, name: str | None = None) -> None:
        """Delete one array file (``name``) or every file of this writer."""
        if name is not None:
            self.paths[name].unlink(missing_ok=True)
            return
        for p in (*self.paths.values(), self.state_path):
            p.unlink(missing_ok=True)


def remove_if_empty(directory: Path) -> None:
    if directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()


class NoProgress:
    """A stand-in for a ``rich`` progress bar that shows nothing."""

    def __enter__(self) -> "NoProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None
