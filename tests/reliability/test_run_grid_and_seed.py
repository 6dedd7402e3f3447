"""Benchmark grids keyed on their resolved configuration, checked before any cell trains; which seed of a
run folder evaluate/robustness/diagnose use; the progress display."""

from __future__ import annotations

import json

import pytest

from mmaffect.cli import main

QUICK = ["--set", "optim.max_epochs=1"]


def test_grid_rerun_with_new_settings_is_not_reported_done(tmp_path, capsys):
    out = tmp_path / "grid"
    base = ["benchmark", "--models", "early_fusion", "--datasets", "synthetic", "--out", str(out)]
    assert main([*base, "--seeds", "1", *QUICK]) == 0
    first = capsys.readouterr().out
    assert "run: early_fusion" in first
    assert main([*base, "--seeds", "1", *QUICK]) == 0
    assert "skip (done)" in capsys.readouterr().out
    assert main([*base, "--seeds", "1", "--set", "optim.max_epochs=2"]) == 0
    log = capsys.readouterr().out
    assert "skip (done)" not in log and "spec changed" in log
    cell = next(out.glob("*/summary.json")).parent
    assert json.loads((cell / "run.json").read_text())["config"]["optim"]["max_epochs"] == 2
    assert main([*base, "--seeds", "1", "2", "--set", "optim.max_epochs=2"]) == 0
    log = capsys.readouterr().out
    assert "skip (done)" not in log
    assert json.loads((cell / "summary.json").read_text())["seeds"] == [1, 2]


@pytest.mark.parametrize("bad, word", [(["--models", "early_fusion", "no_such_model"], "no_such_model"),
                                       (["--models", "early_fusion", "--set", "optim.lrr=1"], "lrr")])
def test_grid_is_checked_before_the_first_cell(tmp_path, capsys, bad, word):
    out = tmp_path / "grid"
    assert main(["benchmark", *bad, "--datasets", "synthetic", "--seeds", "1", *QUICK, "--out", str(out)]) == 2
    assert word in capsys.readouterr().err
    assert not list(out.glob("*/seed_*"))


def test_grid_unknown_dataset_checked_first(tmp_path, capsys):
    out = tmp_path / "grid"
    assert main(["benchmark", "--models", "early_fusion", "--datasets", "synthetic", "no_such_data",
                 "--seeds", "1", *QUICK, "--out", str(out)]) == 2
    assert "no_such_data" in capsys.readouterr().err
    assert not list(out.glob("*/seed_*"))


def test_seed_choice_is_printed_and_selectable(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--seeds", "1", "2", *QUICK, "--out", str(out)]) == 0
    best = json.loads((out / "summary.json").read_text())["best_seed_dir"]
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", "synthetic"]) == 0
    assert best in capsys.readouterr().err
    assert main(["diagnose", str(out), "--data", "synthetic", "--seed", "2", "--out", str(tmp_path / "d")]) == 0
    assert "seed_2" in capsys.readouterr().err
    assert main(["robustness", str(out), "--data", "synthetic", "--seed", "7"]) == 2
    assert "seed_1" in capsys.readouterr().err  # names the seeds there are


def test_progress_forced_on_and_quiet_off_a_terminal(tmp_path, capsys):
    assert main(["train", "--seeds", "1", *QUICK, "--out", str(tmp_path / "a")]) == 0
    assert "eta" not in capsys.readouterr().err  # not a terminal: quiet
    assert main(["--progress", "train", "--seeds", "1", *QUICK, "--out", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    assert "seeds" in err and "eta" in err
