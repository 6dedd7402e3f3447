"""Robustness and diagnostics on a checkpoint trained on the synthetic data."""

import json

import numpy as np
import pytest

from mmaffect import api
from mmaffect.cli import main
from mmaffect.data.synthetic import make_synthetic
from mmaffect.evaluation.diagnostics import linear_cka, mean_cosine


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    bundle = make_synthetic(sizes=(400, 100, 200), seed=0)
    run = api.train("early_fusion", bundle, seeds=[1], out_dir=tmp_path_factory.mktemp("r") / "run",
                    overrides=["optim.max_epochs=12"])
    return bundle, run.directory


def test_noise_degrades_monotonically_and_missing_hurts(trained):
    bundle, directory = trained
    report = api.robustness(directory, bundle, levels=(0.5, 2.0, 8.0), out_dir=directory / "rob")
    clean = report["clean"]["mae"]
    for m in bundle.modalities:
        maes = [report["noise"][m][str(level)]["mae"] for level in (0.5, 2.0, 8.0)]
        assert maes[0] < maes[2] and clean < maes[2], (m, clean, maes)
        assert report["missing"][m]["mae"] > clean
        assert 0 < report["robustness"][m] <= 1.05
    for name in ("robustness.json", "robustness.md", "robustness.png"):
        assert (directory / "rob" / name).is_file()


def test_zero_noise_is_clean(trained):
    bundle, directory = trained
    report = api.robustness(directory, bundle, levels=(0.0,))
    for m in bundle.modalities:
        assert report["noise"][m]["0.0"]["mae"] == pytest.approx(report["clean"]["mae"])


def test_diagnostics_cli(trained, capsys):
    bundle, directory = trained
    assert main(["diagnose", str(directory), "--data", "synthetic", "--out", str(directory / "diag")]) == 0
    report = json.loads((directory / "diag" / "diagnostics.json").read_text())
    assert set(report["pairs"]) == {"audio~text", "audio~vision", "text~vision"}
    assert (directory / "diag" / "diagnostics.png").is_file()
    assert 1 / np.sqrt(3) - 1e-6 <= report["sigma1_over_sqrtM"] <= 1 + 1e-6


def test_linear_cka_reference():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6))
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert linear_cka(x, x @ q * 3.0) == pytest.approx(1.0)  # invariant to rotation and scale
    y = rng.normal(size=(50, 4))
    xc, yc = x - x.mean(0), y - y.mean(0)
    kx, ky = xc @ xc.T, yc @ yc.T
    hsic = lambda a, b: np.trace(a @ b)  # noqa: E731
    assert linear_cka(x, y) == pytest.approx(hsic(kx, ky) / np.sqrt(hsic(kx, kx) * hsic(ky, ky)))
    assert mean_cosine(x, -x) == pytest.approx(-1.0)


def test_decalign_diagnostics_report_transport_entropy(tmp_path):
    bundle = make_synthetic(sizes=(120, 40, 60), seed=2)
    run = api.train("decalign", bundle, seeds=[1], out_dir=tmp_path / "da",
                    overrides=["optim.max_epochs=1", "model.num_layers=1", "model.num_heads=4"])
    report = api.diagnose(run.directory, bundle)["model"]
    assert 0 < report["ot_plan_entropy"] <= report["independent_coupling_entropy"] + 1e-9
