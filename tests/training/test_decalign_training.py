"""DecAlign on the synthetic data (planted shared + specific structure): it learns, and its alignment works.

No "DecAlign beats early fusion" claim: on this data the two differ by less than their seed spread
(25 epochs, sizes 600/150/300, test MAE over seeds 1-3: early fusion 0.446 / 0.436 / 0.450, DecAlign
0.439 / 0.425 / 0.466, so the sign flips with the seed). What holds on every seed, by a wide margin, is
asserted instead (measured with the settings below, seeds 1-5, ``OMP_NUM_THREADS=1``, 4-11 s each):

- test MAE / MAE of the constant (median) predictor: 0.346, 0.356, 0.300, 0.344, 0.340 (bound 0.5);
- test correlation: 0.926, 0.924, 0.941, 0.927, 0.934 (bound 0.85);
- the homogeneous (moment + MMD) alignment loss, last epoch / first: 0.21, 0.22, 0.18, 0.22, 0.19 (bound 0.5).
"""

import numpy as np

from mmaffect import api
from mmaffect.data.synthetic import make_synthetic

FAST = ["optim.max_epochs=8", "optim.patience=8"]
DECALIGN = ["optim.lr=1e-3", "model.num_layers=1", "model.num_heads=4", "optim.batch_size=64",
            "optim.loss=l1", "optim.monitor=mae"]


def test_decalign_learns_the_planted_signal_and_aligns(tmp_path):
    bundle = make_synthetic(sizes=(300, 100, 200), seed=0)
    train, test = bundle.split("train").labels, bundle.split("test").labels
    constant_mae = float(np.abs(test - np.median(train)).mean())
    decalign = api.train("decalign", bundle, seeds=[2], out_dir=tmp_path / "da", overrides=FAST + DECALIGN)
    metrics = decalign.summary["metrics"]
    assert metrics["mae"]["mean"] < 0.5 * constant_mae, (metrics["mae"]["mean"], constant_mae)
    assert metrics["corr"]["mean"] > 0.85, metrics["corr"]
    history = decalign.seeds[0].history
    homogeneous = [row["train/homogeneous"] for row in history if "train/homogeneous" in row]
    assert homogeneous and homogeneous[-1] < 0.5 * homogeneous[0], homogeneous
    # the heterogeneous (prototype + optimal transport) objective was active too
    assert any("train/heterogeneous" in row for row in history)
