"""Metrics against a separately written pure-Python reference of MMSA's definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from mmaffect.metrics import METRIC_DIRECTIONS, compute_metrics
from mmaffect.metrics import classification_metrics, msa_metrics, sims_metrics

# ---------------------------------------------------------------- pure-Python reference implementations


def ref_weighted_f1(y: list, p: list) -> float:
    """Support-weighted mean of per-class F1 over the classes of y ∪ p (0 where undefined)."""
    classes = sorted(set(y) | set(p))
    total = 0.0
    for c in classes:
        tp = sum(1 for a, b in zip(y, p) if a == c and b == c)
        fp = sum(1 for a, b in zip(y, p) if a != c and b == c)
        fn = sum(1 for a, b in zip(y, p) if a == c and b != c)
        f1 = 0.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
        total += f1 * sum(1 for a in y if a == c)
    return total / len(y)


def ref_macro_f1(y: list, p: list) -> float:
    classes = sorted(set(y) | set(p))
    scores = []
    for c in classes:
        tp = sum(1 for a, b in zip(y, p) if a == c and b == c)
        fp = sum(1 for a, b in zip(y, p) if a != c and b == c)
        fn = sum(1 for a, b in zip(y, p) if a == c and b != c)
        scores.append(0.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


def ref_acc(a: list, b: list) -> float:
    return sum(1 for u, v in zip(a, b) if u == v) / len(a)


def ref_clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def ref_pearson(a: list, b: list) -> float:
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((u - ma) * (v - mb) for u, v in zip(a, b))
    va, vb = sum((u - ma) ** 2 for u in a), sum((v - mb) ** 2 for v in b)
    return 0.0 if va == 0 or vb == 0 else cov / math.sqrt(va * vb)


def ref_msa(p: list, y: list) -> dict:
    p, y = [float(v) for v in p], [float(v) for v in y]
    out = {
        "has0_acc2": ref_acc([v >= 0 for v in p], [v >= 0 for v in y]),
        "has0_f1": ref_weighted_f1([v >= 0 for v in y], [v >= 0 for v in p]),
    }
    keep = [i for i, v in enumerate(y) if v != 0]
    yn, pn = [y[i] > 0 for i in keep], [p[i] > 0 for i in keep]
    out["non0_acc2"] = ref_acc(pn, yn) if keep else float("nan")
    out["non0_f1"] = ref_weighted_f1(yn, pn) if keep else float("nan")
    # Python's round() on floats is half-to-even, like NumPy's.
    out["acc5"] = ref_acc([round(ref_clip(v, -2, 2)) for v in p], [round(ref_clip(v, -2, 2)) for v in y])
    out["acc7"] = ref_acc([round(ref_clip(v, -3, 3)) for v in p], [round(ref_clip(v, -3, 3)) for v in y])
    out["mae"] = sum(abs(a - b) for a, b in zip(p, y)) / len(p)
    out["corr"] = ref_pearson(p, y)
    return out


def ref_sims_bin(x: float, edges: list) -> int:
    for i in range(len(edges) - 1):
        if edges[i] < x <= edges[i + 1]:
            return i
    raise AssertionError(x)


def ref_sims(p: list, y: list) -> dict:
    p = [ref_clip(float(v), -1, 1) for v in p]
    y = [ref_clip(float(v), -1, 1) for v in y]
    e2, e3, e5 = [-1.01, 0.0, 1.01], [-1.01, -0.1, 0.1, 1.01], [-1.01, -0.7, -0.1, 0.1, 0.7, 1.01]
    b = lambda xs, e: [ref_sims_bin(v, e) for v in xs]  # noqa: E731
    return {
        "acc2": ref_acc(b(p, e2), b(y, e2)),
        "acc3": ref_acc(b(p, e3), b(y, e3)),
        "acc5": ref_acc(b(p, e5), b(y, e5)),
        "f1": ref_weighted_f1(b(y, e2), b(p, e2)),
        "mae": sum(abs(a - c) for a, c in zip(p, y)) / len(p),
        "corr": ref_pearson(p, y),
    }


def ref_auroc(y: list, s: list) -> float:
    """Probability that a random positive outranks a random negative (ties count 1/2)."""
    pos = [v for v, c in zip(s, y) if c == 1]
    neg = [v for v, c in zip(s, y) if c == 0]
    if not pos or not neg:
        return float("nan")
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def assert_same(got: dict, want: dict, tol: float = 1e-9) -> None:
    assert set(got) == set(want), (sorted(got), sorted(want))
    for k in want:
        assert isinstance(got[k], float), (k, type(got[k]))
        if math.isnan(want[k]):
            assert math.isnan(got[k]), (k, got[k])
        else:
            assert got[k] == pytest.approx(want[k], abs=tol), (k, got[k], want[k])


# ---------------------------------------------------------------- MOSI / MOSEI

def test_msa_crafted_zeros_halves_and_clipping():
    y = [0.0, 0.0, 1.5, 2.5, -0.5, -2.5, 3.0, -3.0, 0.4, 1.0]
    p = [0.0, -0.2, 2.5, 1.5, 0.5, -3.7, 9.0, -2.6, 0.0, 0.5]
    got, want = msa_metrics(np.array(p), np.array(y)), ref_msa(p, y)
    assert_same(got, want)
    # Hand-computed values pin the definitions independently of both implementations.
    # p >= 0 vs y >= 0: mismatches at index 1 (−0.2 vs 0) and 4 (0.5 vs −0.5) → 8/10.
    assert got["has0_acc2"] == pytest.approx(0.8)
    # Over y != 0 (8 samples): p > 0 vs y > 0 differs at index 4 (0.5 vs −0.5) and 8 (0.0 vs 0.4) → 6/8.
    assert got["non0_acc2"] == pytest.approx(6 / 8)
    # acc7: round half to even: 1.5→2 vs 2.5→2 equal, 2.5→2 vs 1.5→2 equal, −0.5→−0 vs 0.5→0 equal,
    # −2.5→−2 vs clip(−3.7)=−3 differ, 3 vs clip(9)=3 equal, −3 vs −2.6→−3 equal, 0.4→0 vs 0 equal,
    # 1 vs 0.5→0 differ, 0 vs 0 equal, 0 vs −0.2→−0 equal → 8/10.
    assert got["acc7"] == pytest.approx(0.8)
    # acc5 clips to ±2: index 5 is −2 vs −2 (equal now) → 9/10.
    assert got["acc5"] == pytest.approx(0.9)


def test_msa_half_to_even_differs_from_half_up():
    """1.5 → 2 and 2.5 → 2 under half-to-even (half-up would give 2 and 3)."""
    got = msa_metrics([2.5, 0.5, -1.5], [1.6, 0.0, -2.4])
    assert got["acc7"] == 1.0  # 2, 0, −2 against 2, 0, −2


def test_msa_all_zero_labels_give_nan_non0_and_zero_corr():
    got = msa_metrics([0.3, -0.1, 0.0], [0.0, 0.0, 0.0])
    assert math.isnan(got["non0_acc2"]) and math.isnan(got["non0_f1"])
    assert got["corr"] == 0.0
    assert got["has0_acc2"] == pytest.approx(2 / 3)


def test_msa_constant_predictions_corr_is_zero_not_nan():
    got = msa_metrics(np.zeros(5), np.array([1.0, -1.0, 2.0, 0.0, 0.5]))
    assert got["corr"] == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_msa_random_against_reference_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = np.round(rng.uniform(-3, 3, 200) * 3) / 3  # MOSI-like labels, including exact zeros
    y[:10] = 0.0
    p = rng.normal(0, 2, 200).astype(np.float32)
    got = msa_metrics(torch.from_numpy(p), y.astype(np.float32))
    assert_same(got, ref_msa(p.tolist(), y.astype(np.float32).tolist()), tol=1e-6)
    nz = y != 0
    assert got["non0_f1"] == pytest.approx(f1_score(y[nz] > 0, p[nz] > 0, average="weighted"))
    assert got["corr"] == pytest.approx(np.corrcoef(p, y)[0, 1], abs=1e-6)


def test_msa_accepts_column_vectors_and_tensors():
    p = torch.tensor([[0.5], [-1.0], [2.0]])
    y = torch.tensor([[1.0], [-1.0], [0.0]])
    assert_same(msa_metrics(p, y), ref_msa([0.5, -1.0, 2.0], [1.0, -1.0, 0.0]))


def test_length_mismatch_names_both_lengths():
    with pytest.raises(ValueError, match=r"pred has 3 .* label has 2"):
        msa_metrics([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"scores has 2 .* label has 3"):
        classification_metrics(np.eye(2), [0, 1, 1])


def test_non_finite_predictions_are_an_error():
    with pytest.raises(ValueError, match="non-finite"):
        msa_metrics([np.nan, 1.0], [0.0, 1.0])


# ---------------------------------------------------------------- SIMS

def test_sims_bin_edges_are_half_open_on_the_left():
    """Bins are (lo, hi]: a label exactly on an edge falls in the lower bin, a prediction just above it not."""
    y = [0.0, -0.1, 0.1, -0.7, 0.7, 1.0, -1.0]
    p = [1e-9, -0.0999, 0.1001, -0.6999, 0.7001, 5.0, -5.0]  # the last two are clipped onto the labels
    got = sims_metrics(p, y)
    assert_same(got, ref_sims(p, y))
    # 2 classes [-1, 0] | (0, 1]: only index 0 differs.
    assert got["acc2"] == pytest.approx(6 / 7)
    # 3 classes (.., -0.1] | (-0.1, 0.1] | (0.1, ..]: indices 1 and 2 differ.
    assert got["acc3"] == pytest.approx(5 / 7)
    # 5 classes: every crafted prediction moves one bin up except index 0 (0 and 1e-9 share (-0.1, 0.1]).
    assert got["acc5"] == pytest.approx(3 / 7)


def test_sims_clips_before_mae_and_corr():
    got = sims_metrics([3.0, -3.0, 0.0], [1.0, -1.0, 0.5])
    assert got["mae"] == pytest.approx(0.5 / 3)


@pytest.mark.parametrize("seed", range(5))
def test_sims_random_against_reference(seed):
    rng = np.random.default_rng(100 + seed)
    y = np.round(rng.uniform(-1, 1, 150) * 5) / 5  # SIMS-like labels on a 0.2 grid
    p = rng.normal(0, 0.7, 150)
    assert_same(sims_metrics(p, y), ref_sims(p.tolist(), y.tolist()), tol=1e-9)


# ---------------------------------------------------------------- classification

@pytest.mark.parametrize("seed", range(4))
def test_classification_random_against_sklearn_and_reference(seed):
    rng = np.random.default_rng(200 + seed)
    logits = rng.normal(size=(120, 4))
    y = rng.integers(0, 4, 120)
    got = classification_metrics(logits, y)
    pred = logits.argmax(1)
    assert set(got) == {"acc", "weighted_f1", "macro_f1", "micro_f1"}
    assert got["acc"] == pytest.approx(accuracy_score(y, pred))
    assert got["weighted_f1"] == pytest.approx(ref_weighted_f1(y.tolist(), pred.tolist()))
    assert got["macro_f1"] == pytest.approx(ref_macro_f1(y.tolist(), pred.tolist()))
    assert got["micro_f1"] == pytest.approx(got["acc"])
    assert got["weighted_f1"] == pytest.approx(f1_score(y, pred, average="weighted"))


@pytest.mark.parametrize("seed", range(3))
def test_binary_auroc_same_for_logits_probabilities_and_scores(seed):
    rng = np.random.default_rng(300 + seed)
    logits = rng.normal(size=(80, 2))
    y = rng.integers(0, 2, 80)
    prob = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
    want = ref_auroc(y.tolist(), prob[:, 1].tolist())
    assert want == pytest.approx(roc_auc_score(y, prob[:, 1]))
    for scores in (logits, prob, prob[:, 1]):
        got = compute_metrics("binary", scores, y)
        assert got["auroc"] == pytest.approx(want)
        assert got["acc"] == pytest.approx(ref_acc(prob.argmax(1).tolist(), y.tolist()))


def test_one_class_only_auroc_is_nan_and_f1_defined():
    y = np.zeros(6, dtype=int)
    scores = np.array([0.1, 0.7, 0.2, 0.9, 0.3, 0.4])  # positive-class probabilities
    got = classification_metrics(scores, y)
    assert math.isnan(got["auroc"])
    pred = [0, 1, 0, 1, 0, 0]
    assert got["acc"] == pytest.approx(4 / 6)
    assert got["weighted_f1"] == pytest.approx(ref_weighted_f1(y.tolist(), pred))
    assert got["macro_f1"] == pytest.approx(ref_macro_f1(y.tolist(), pred))  # class 1 counts as F1 = 0
    all_right = classification_metrics(np.zeros(4), np.zeros(4, dtype=int))
    assert all_right["weighted_f1"] == 1.0 and all_right["macro_f1"] == 1.0 and math.isnan(all_right["auroc"])


def test_classification_bad_labels():
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        classification_metrics(np.eye(3), [0, 1, 3])
    with pytest.raises(ValueError, match="integer"):
        classification_metrics(np.eye(2), [0.0, 0.5])
    with pytest.raises(ValueError, match="binary"):
        compute_metrics("binary", np.eye(3), [0, 1, 2])


# ---------------------------------------------------------------- dispatcher

def test_dispatcher_keys_and_directions():
    p, y = np.array([0.5, -1.0, 2.0, 0.1]), np.array([1.0, -1.0, 0.0, -0.2])
    msa = compute_metrics("msa", p, y)
    assert list(msa) == ["has0_acc2", "has0_f1", "non0_acc2", "non0_f1", "acc5", "acc7", "mae", "corr"]
    assert list(compute_metrics("sims", p, y)) == ["acc2", "acc3", "acc5", "f1", "mae", "corr"]
    cls = compute_metrics("classification", np.eye(2)[[0, 1, 1, 0]], [0, 1, 0, 0])
    assert list(cls) == ["acc", "weighted_f1", "macro_f1", "micro_f1", "auroc"]
    for key in [*msa, "acc2", "acc3", "f1", *cls]:
        assert METRIC_DIRECTIONS[key] == ("min" if key == "mae" else "max")
    with pytest.raises(ValueError, match="unknown metric set"):
        compute_metrics("nope", p, y)
