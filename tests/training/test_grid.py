"""The benchmark runner: a grid resumes (finished cells are skipped) and writes one table and a report."""

import pytest

from mmaffect.cli import main
from mmaffect.training import grid
from mmaffect.training.grid import BenchmarkSpec, CellSpec, run_benchmark
from mmaffect.reporting.report import build_report


def _spec(tmp_path):
    return BenchmarkSpec(out=str(tmp_path / "grid"), seeds=[1, 2], set=["optim.max_epochs=2"],
                         metrics=["non0_acc2", "mae"],
                         runs=[CellSpec(model="early_fusion", data="synthetic"),
                               CellSpec(model="late_fusion", data="synthetic", label="late")])


def test_grid_resumes_and_marks_best(tmp_path, monkeypatch):
    spec = _spec(tmp_path)
    out = run_benchmark(spec, log=lambda *_: None)
    table = (out / "table.md").read_text()
    assert "late" in table and "early_fusion on synthetic" in table
    assert table.count("**") == 2 * 2  # one bold value per metric column
    assert (out / "metrics.png").is_file() and (out / "table.csv").is_file()

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished cell was run again")

    monkeypatch.setattr(grid, "_run_cell", must_not_run)
    run_benchmark(spec, log=lambda *_: None)  # everything done: nothing runs
    spec.runs.append(CellSpec(model="lmf", data="synthetic"))
    with pytest.raises(AssertionError, match="run again"):  # only the new cell is attempted
        run_benchmark(spec, log=lambda *_: None)

    report = build_report(out)
    assert "metrics.png" in report.read_text()
    assert "<table>" in report.with_suffix(".html").read_text()


def test_duplicate_labels_are_refused(tmp_path):
    spec = BenchmarkSpec(runs=[CellSpec(model="tfn", data="synthetic"), CellSpec(model="tfn", data="synthetic")])
    with pytest.raises(ValueError, match="unique"):
        spec.cells()


def test_cli_flags_cross_product(tmp_path, capsys):
    assert main(["benchmark", "--models", "lmf", "tfn", "--datasets", "synthetic", "--seeds", "1",
                 "--set", "optim.max_epochs=1", "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "lmf on synthetic" in out and "tfn on synthetic" in out
