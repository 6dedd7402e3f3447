"""PMRL's objectives on the synthetic data: more aligned embeddings and better cross-modal retrieval."""

import numpy as np
import pytest

from mmaffect import api
from mmaffect.data.synthetic import make_synthetic

COMMON = ["optim.max_epochs=10", "optim.patience=10", "model.head_input=pooled"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    bundle = make_synthetic(sizes=(400, 100, 200), noise=0.5, seed=0)
    root = tmp_path_factory.mktemp("pmrl")
    with_obj = api.train("pmrl", bundle, seeds=[11], out_dir=root / "with", overrides=COMMON + [
        "objectives.spectral_alignment.weight=1.0", "objectives.leading_direction_contrast.weight=0.1"])
    without = api.train("pmrl", bundle, seeds=[11], out_dir=root / "without", overrides=COMMON + [
        "objectives.spectral_alignment.weight=0.0", "objectives.leading_direction_contrast.weight=0.0"])
    return with_obj.seeds[0].metrics["test_alignment"], without.seeds[0].metrics["test_alignment"]


def test_objective_raises_alignment(runs):
    aligned, plain = runs
    assert aligned["alignment"] > plain["alignment"] + 0.05, (aligned["alignment"], plain["alignment"])


def test_objective_improves_retrieval(runs):
    aligned, plain = runs
    r1 = lambda report: np.mean([v for k, v in report.items() if k.endswith("/R@5")])  # noqa: E731
    assert r1(aligned) > r1(plain), (r1(aligned), r1(plain))
