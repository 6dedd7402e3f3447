"""PMRL's objectives on the synthetic data: more aligned embeddings, on every seed, by a margin above noise.

Measured with the settings below (``OMP_NUM_THREADS=1``, about 3 s per run), test alignment
sigma_1 / sqrt(M) with / without the objectives, seeds 1-5: 0.700/0.637, 0.695/0.625, 0.700/0.638,
0.691/0.635, 0.698/0.648, so differences 0.050-0.071 (the old single-seed bound of +0.05 sat at the
bottom of that spread). Asserted: each of seeds 1-2 gains > 0.02, their mean gain > 0.04.

Cross-modal retrieval is *not* compared: on this data it is at chance level for both models
(mean R@5 0.013-0.108 against 5/200 = 0.025 by chance; R@1 differences of one or two test samples),
so "the objectives improve retrieval" cannot be told apart from seed noise here. The retrieval report
is checked for its form instead.
"""

import numpy as np
import pytest

from mmaffect import api
from mmaffect.data.synthetic import make_synthetic

COMMON = ["optim.max_epochs=10", "optim.patience=10", "model.head_input=pooled"]
SEEDS = [1, 2]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    bundle = make_synthetic(sizes=(400, 100, 200), noise=0.5, seed=0)
    root = tmp_path_factory.mktemp("pmrl")
    with_obj = api.train("pmrl", bundle, seeds=SEEDS, out_dir=root / "with", overrides=COMMON + [
        "objectives.spectral_alignment.weight=1.0", "objectives.leading_direction_contrast.weight=0.1"])
    without = api.train("pmrl", bundle, seeds=SEEDS, out_dir=root / "without", overrides=COMMON + [
        "objectives.spectral_alignment.weight=0.0", "objectives.leading_direction_contrast.weight=0.0"])
    return ([s.metrics["test_alignment"] for s in with_obj.seeds],
            [s.metrics["test_alignment"] for s in without.seeds])


def test_objective_raises_alignment(runs):
    aligned, plain = runs
    gains = [a["alignment"] - p["alignment"] for a, p in zip(aligned, plain, strict=True)]
    assert len(gains) == len(SEEDS) and all(g > 0.02 for g in gains), gains
    assert np.mean(gains) > 0.04, gains


def test_retrieval_report_covers_every_pair(runs):
    for report in runs[0] + runs[1]:
        pairs = {k.rsplit("/", 1)[0] for k in report if k.endswith("/R@5")}
        assert len(pairs) == 6, sorted(report)  # three modalities, both directions
        for pair in pairs:
            assert 0.0 <= report[f"{pair}/R@1"] <= report[f"{pair}/R@5"] <= 1.0, (pair, report)
            assert report[f"{pair}/MedR"] >= 1, (pair, report)
