"""Results tables: aggregation against NumPy, the benchmark table's bold best by metric direction, HTML."""

import numpy as np
import pytest

from mmaffect.metrics.policy import best_value, direction, headline_metric, relative_score, selection_metric
from mmaffect.reporting.benchmark_table import BenchmarkRow, write_benchmark_table
from mmaffect.reporting.report import markdown_to_html
from mmaffect.reporting.tables import aggregate


def test_aggregate_is_mean_and_sample_std():
    rows = [{"mae": 0.7, "acc": 0.8}, {"mae": 0.9, "acc": 0.6}, {"mae": 0.8, "acc": 0.7}]
    stats = aggregate(rows)
    assert stats["mae"]["mean"] == pytest.approx(0.8)
    assert stats["mae"]["std"] == pytest.approx(np.std([0.7, 0.9, 0.8], ddof=1))
    assert aggregate([{"mae": 0.5}])["mae"] == {"mean": 0.5, "std": 0.0, "n": 1}


def test_benchmark_table_bolds_the_best_by_direction(tmp_path):
    def summary(mae, acc):
        return {"seeds": [1], "metrics": {"mae": {"mean": mae, "std": 0.0}, "non0_acc2": {"mean": acc, "std": 0.0}}}

    rows = [BenchmarkRow("a", "m", summary(0.9, 0.80)), BenchmarkRow("b", "m", summary(0.7, 0.70))]
    md = write_benchmark_table(rows, tmp_path, ["mae", "non0_acc2"])
    line_a, line_b = [line for line in md.splitlines() if line.startswith("| a") or line.startswith("| b")]
    assert "**0.800" in line_a and "**0.700" in line_b  # larger acc, smaller mae
    assert (tmp_path / "table.csv").is_file() and (tmp_path / "metrics.png").is_file()


def test_primary_metric_policy():
    assert headline_metric("msa") == "non0_acc2" and selection_metric("msa") == "mae"
    assert headline_metric("sims") == "acc2" and selection_metric("classification") == "acc"
    assert direction("mae") == "min" and direction("loss") == "min" and direction("acc") == "max"
    assert best_value("mae", [0.9, 0.7]) == 0.7 and best_value("acc", [0.9, 0.7]) == 0.9
    assert relative_score("mae", 1.0, 0.5) == pytest.approx(0.5)  # twice the error: half as good
    with pytest.raises(ValueError, match="metric set"):
        headline_metric("nope")


def test_markdown_to_html_tables_and_bold():
    page = markdown_to_html("# T\n\n| a | b |\n|---|---|\n| **1** | 2 |\n\n![f](x.png)\n")
    assert "<h1>T</h1>" in page and "<td><b>1</b></td>" in page and '<img alt="f" src="x.png">' in page
