"""The one resumable writer of the dataset jobs (extract, extract_clip, decompose, describe).

:class:`ResumableArrays` writes several arrays of one split row block by row block. The arrays live as memory-mapped ``.npy`` files ``<partial>/<name>.<split>.npy``; after every batch
the arrays are flushed and ``<partial>/<job>.<split>.json`` records the number of finished rows, the
settings that determine the output and any per-job notes (e.g. skipped samples). A new writer with the
same settings continues where the last one stopped; different settings start over.

:class:`ResumableRows` is the same contract for a user-named JSONL cache of per-sample records (the
describe job): rewritten atomically after every chunk, resumed from; its settings (the describer's
fingerprint) are recorded in ``<cache>.meta.json`` and a cache filled under other settings is refused
rather than overwritten, since the user named that file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from mmaffect.errors import ConfigError, DataError
from mmaffect.io import atomic_write_json, atomic_write_text


OUTPUT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
SETTINGS_FILE = "extract_settings.json"  # modality name -> the settings that made it


def check_output_name(dataset_dir: Path, name: str, outputs: Sequence[str] = ()) -> None:
    """Refuse a modality name that is not a plain file name, or an output path that leaves ``dataset_dir``.

    Called before any work, so a bad ``--name`` (``../x``, ``/abs/path``) costs nothing and writes nothing.
    """
    if not isinstance(name, str) or not OUTPUT_NAME.fullmatch(name) or name in ("dataset", "index", "labels"):
        raise ConfigError(f"--name {name!r}: a modality name is letters, digits, '_' or '-' (at most 100, starting "
                          f"with a letter or digit; no '/', '..' or dots); it becomes a file inside {dataset_dir}")
    root = os.path.normpath(os.path.abspath(dataset_dir))
    for rel in (name, *outputs):
        full = os.path.normpath(os.path.join(root, rel))
        if os.path.commonpath([root, full]) != root:
            raise ConfigError(f"output {rel!r} would be written outside {dataset_dir}")


def completed_settings(dataset_dir: Path) -> dict[str, Any]:
    """The recorded settings of every modality an extract job completed in ``dataset_dir``."""
    path = Path(dataset_dir) / SETTINGS_FILE
    if not path.is_file():
        return {}
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    return recorded if isinstance(recorded, dict) else {}


def record_settings(dataset_dir: Path, name: str, settings: Mapping[str, Any] | None) -> None:
    """Record (or with ``None`` forget) the settings that made modality ``name``."""
    recorded = completed_settings(dataset_dir)
    if settings is None:
        recorded.pop(name, None)
    else:
        recorded[name] = json.loads(json.dumps(dict(settings)))
    write_json_atomic(Path(dataset_dir) / SETTINGS_FILE, recorded)


def check_completed(dataset_dir: Path, name: str, settings: Mapping[str, Any], present: bool) -> bool:
    """True when modality ``name`` is already complete with ``settings`` (nothing to do).

    A modality of that name made with other (or unknown) settings is refused: it is never mixed with,
    nor silently kept in place of, what was asked for.
    """
    if not present:
        return False
    recorded = completed_settings(dataset_dir).get(name)
    wanted = json.loads(json.dumps(dict(settings)))
    if recorded == wanted:
        return True
    made = f"made with {recorded}" if recorded is not None else "not made by this job (settings unknown)"
    raise DataError(f"{dataset_dir}: modality {name!r} already exists, {made}; the settings asked for now are "
                    f"{wanted}: pass --replace to compute it again, or --name OTHER for a second modality")


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
        if state and not resume:
            print(f"{self.state_path}: an unfinished {job!r} of split {split!r} was made with other settings "
                  f"({state.get('settings')}); starting this split over with {self.settings}")
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


def progress_bar(enabled: bool = True) -> Any:
    """A ``rich`` progress bar (description, bar, done/total, time left), or :class:`NoProgress`."""
    if not enabled:
        return NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


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


class ResumableRows:
    """A JSONL cache of per-sample records (``{"id": ..., **fields}`` per line), resumable, settings-checked."""

    def __init__(self, path: str | Path, settings: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.settings = json.loads(json.dumps(dict(settings)))
        self._check_settings()
        self.rows = read_rows(self.path)

    def _check_settings(self) -> None:
        """Record the settings in ``<cache>.meta.json``; refuse a cache written under other settings."""
        meta = Path(f"{self.path}.meta.json")
        if meta.is_file():
            try:
                recorded = json.loads(meta.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                recorded = None
            if recorded != self.settings:
                raise DataError(f"{self.path} was written by another describer ({recorded}); resuming it with "
                                f"{self.settings} would mix descriptions: choose another cache file or delete it")
            return
        meta.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(meta, self.settings, ensure_ascii=False)

    def __contains__(self, sample_id: object) -> bool:
        return str(sample_id) in self.rows

    def write(self, rows: Mapping[str, Mapping[str, Any]]) -> None:
        """Add ``rows`` (id -> record) and rewrite the cache atomically (the commit point)."""
        self.rows.update({str(k): dict(v) for k, v in rows.items()})
        write_rows(self.path, self.rows)


def read_rows(path: str | Path) -> dict[str, dict[str, Any]]:
    """The cached records (id -> fields) of a JSONL cache; a missing file is an empty cache."""
    path = Path(path)
    if not path.is_file():
        return {}
    out: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out[str(row.pop("id"))] = row
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise DataError(f"{path}:{lineno}: not a description cache line") from None
    return out


def write_rows(path: str | Path, rows: Mapping[str, Mapping[str, Any]]) -> None:
    """Write the cache atomically: a temporary file beside ``path``, fsync, rename."""
    atomic_write_text(path, "".join(json.dumps({"id": sample_id, **fields}, ensure_ascii=False) + "\n"
                                    for sample_id, fields in rows.items()))
