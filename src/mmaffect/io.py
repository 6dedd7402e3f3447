"""Atomic writes: everything the project writes goes to a temporary file beside its target, is flushed
to disk, then renamed into place, so an interrupted run never leaves a half-written file.

Temporary files and folders are named ``.<target>.tmp-<pid>-<random>``. A write that is killed leaves
one behind; the next write to the same target removes those whose process is gone
(:func:`remove_stale_temporaries`). Written files get the mode ``open()`` would give them
(``0o666 & ~umask``, applied by the kernel), not the private 0600 of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

#: A temporary without a process id in its name (written by an older version) is stale after this long.
LEGACY_TEMPORARY_AGE_S = 24 * 3600


def temporary_path(target: str | Path, kind: str = "tmp") -> Path:
    """A hidden name beside ``target`` for a temporary (``kind`` ``tmp``) or a replaced copy (``old``),
    carrying this process's id so that a later write can tell an abandoned one from a live one."""
    target = Path(target)
    return target.with_name(f".{target.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temporaries(target: str | Path, kinds: tuple[str, ...] = ("tmp",)) -> list[Path]:
    """Remove the temporaries of earlier, killed writes to ``target``; return what was removed.

    A temporary ``.<name>.<kind>-<pid>-<hex>`` is stale when process ``pid`` no longer exists; one
    without a pid (``.<name>.tmp-<hex>`` or ``.<name>.<8 chars>.tmp``, older versions) when it is older
    than :data:`LEGACY_TEMPORARY_AGE_S`. A temporary of a live process is never touched.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    name = re.escape(target.name)
    kinds_re = "|".join(re.escape(k) for k in kinds)
    with_pid = re.compile(rf"^\.{name}\.(?:{kinds_re})-(\d+)-[0-9a-f]+$")
    legacy = re.compile(rf"^\.{name}\.(?:(?:{kinds_re})-[0-9a-f]{{12}}|[a-z0-9_]{{8}}\.tmp)$")
    removed = []
    for entry in target.parent.iterdir():
        if not entry.name.startswith(f".{target.name}."):
            continue
        match = with_pid.match(entry.name)
        try:
            stale = (not _pid_alive(int(match.group(1))) if match else
                     bool(legacy.match(entry.name)) and time.time() - entry.lstat().st_mtime > LEGACY_TEMPORARY_AGE_S)
            if not stale:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:  # removed meanwhile by another cleaner
            continue
        removed.append(entry)
    return removed


def atomic_write_bytes(path: str | Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename); return its sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_path(path)
    # 0o666: the kernel applies the umask, as for open(); mkstemp's 0600 would make every file private.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in ``chunk``-byte pieces (bounded memory whatever its size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_text(path: str | Path, text: str) -> str:
    """UTF-8 ``text`` to ``path`` atomically; returns its sha256."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any, **kwargs: Any) -> str:
    return atomic_write_text(path, json.dumps(data, **kwargs))


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> None:
    """Save a matplotlib figure atomically as PNG and close it."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
