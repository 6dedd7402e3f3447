"""Atomic writes leave files with the mode ``open()`` gives, and clean up after writes that were killed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmaffect.data.native import read_native, write_native
from mmaffect.data.synthetic import make_synthetic
from mmaffect.io import LEGACY_TEMPORARY_AGE_S, atomic_write_json, atomic_write_text, remove_stale_temporaries


@pytest.fixture
def umask():
    """Set a umask for the test and restore the previous one."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_written_files_get_the_mode_open_gives(tmp_path, umask, mask):
    umask(mask)
    reference = tmp_path / "plain.txt"
    with open(reference, "w") as f:
        f.write("x")
    atomic_write_text(tmp_path / "atomic.txt", "x")
    atomic_write_json(tmp_path / "atomic.json", {"a": 1})
    assert _mode(tmp_path / "atomic.txt") == _mode(reference) == 0o666 & ~mask
    assert _mode(tmp_path / "atomic.json") == _mode(reference)
    out = write_native(make_synthetic(sizes=(4, 2, 2), seed=0), tmp_path / "ds")
    assert _mode(out / "dataset.json") == _mode(out / "train" / "labels.npy") == _mode(reference)
    assert _mode(out / "train" / "index.jsonl") == _mode(reference)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    target = tmp_path / "results.json"
    dead, live = _dead_pid(), os.getppid()
    stale_file = tmp_path / f".results.json.tmp-{dead}-0123abcd"
    live_file = tmp_path / f".results.json.tmp-{live}-0123abcd"
    own_file = tmp_path / f".results.json.tmp-{os.getpid()}-0123abcd"
    old_legacy = tmp_path / ".results.json.ab_cd123.tmp"  # an older version's mkstemp name
    new_legacy = tmp_path / ".results.json.zz_cd123.tmp"
    other = tmp_path / f".results.jsonl.tmp-{dead}-0123abcd"  # another target: not touched
    for path in (stale_file, live_file, own_file, old_legacy, new_legacy, other):
        path.write_bytes(b"partial")
    long_ago = time.time() - LEGACY_TEMPORARY_AGE_S - 60
    os.utime(old_legacy, (long_ago, long_ago))
    atomic_write_text(target, "done")
    assert target.read_text() == "done"
    assert not stale_file.exists() and not old_legacy.exists()
    assert live_file.exists() and own_file.exists() and new_legacy.exists() and other.exists()


def test_a_killed_dataset_write_is_cleaned_by_the_next_one(tmp_path):
    """SIGKILL during ``write_native`` (after every file is written, before the rename) leaves the
    temporary folder; the next write of the same dataset removes it."""
    out = tmp_path / "ds"
    script = (
        "import os, signal, sys\n"
        "import mmaffect.data.native as native\n"
        "from mmaffect.data.synthetic import make_synthetic\n"
        "native._move_into_place = lambda tmp, out: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"native.write_native(make_synthetic(sizes=(40, 8, 8), seed=0), {str(out)!r})\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -9, result.stderr.decode()
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".ds.tmp-")]
    assert len(leftovers) == 1 and (leftovers[0] / "dataset.json").is_file() and not out.exists()
    write_native(make_synthetic(sizes=(40, 8, 8), seed=1), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert len(read_native(out).split("train")) == 40


def test_a_replaced_copy_is_kept_while_the_target_is_missing(tmp_path):
    """Killed between the two renames of a replacement, ``.ds.old-*`` holds the only complete copy."""
    out = tmp_path / "ds"
    old = tmp_path / f".ds.old-{_dead_pid()}-0123abcd"
    old.mkdir()
    (old / "dataset.json").write_text("{}")
    write_native(make_synthetic(sizes=(4, 2, 2), seed=0), out)
    assert old.exists()  # the target did not exist: the copy may be all the user has
    write_native(make_synthetic(sizes=(4, 2, 2), seed=0), out, overwrite=True)
    assert not old.exists()  # now the target exists: the replaced copy is garbage
    assert remove_stale_temporaries(out, ("tmp", "old")) == []
