"""`train --out` into an existing folder: the same configuration resumes, another one is refused."""

from __future__ import annotations

import json

from pathlib import Path

from mmaffect.cli import main
from tests.reliability.cli_checks import one_line_error

QUICK = ["--set", "optim.max_epochs=1"]


def train(out: Path, *extra: str, seeds: tuple[int, ...] = (1,)) -> int:
    return main(["train", "--seeds", *map(str, seeds), *QUICK, "--out", str(out), *extra])



def test_resume_trains_only_unfinished_seeds_and_refuses_another_model(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, seeds=(1, 2)) == 0
    first = {s: (out / f"seed_{s}" / "model.safetensors").stat().st_mtime_ns for s in (1, 2)}
    capsys.readouterr()
    assert train(out, seeds=(1, 2, 3)) == 0
    log = capsys.readouterr().out
    assert "seed 1: already trained" in log and "seed 2: already trained" in log
    assert "seed 3: trained" in log
    assert {s: (out / f"seed_{s}" / "model.safetensors").stat().st_mtime_ns for s in (1, 2)} == first
    assert json.loads((out / "summary.json").read_text())["seeds"] == [1, 2, 3]

    assert train(out, "--model", "lmf", seeds=(1,)) == 2
    one_line_error(capsys, str(out), "config.model", "lmf", "--replace")
    assert {s: (out / f"seed_{s}" / "model.safetensors").stat().st_mtime_ns for s in (1, 2)} == first


def test_killed_seed_is_trained_again(tmp_path, capsys):
    """A seed without metrics.json (killed before its result was written) is trained, not read back."""
    out = tmp_path / "run"
    assert train(out, seeds=(1, 2)) == 0
    (out / "seed_2" / "metrics.json").unlink()
    capsys.readouterr()
    assert train(out, seeds=(1, 2)) == 0
    log = capsys.readouterr().out
    assert "seed 1: already trained" in log and "seed 2: trained" in log


def test_other_settings_are_refused_by_key_and_replace_discards(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out) == 0
    assert train(out, "--set", "optim.lr=0.01") == 2
    one_line_error(capsys, "optim.lr")
    assert train(out, "--set", "optim.lr=0.01", "--replace") == 0


def test_foreign_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert train(out) == 2
    one_line_error(capsys, str(out))
    assert (out / "notes.txt").read_text() == "keep me"
