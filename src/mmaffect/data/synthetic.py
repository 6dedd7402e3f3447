"""The embedded default dataset: multimodal sequences with planted shared and specific structure.

Per sample ``i`` and modality ``m`` with steps ``t < len_m``:

``x_m[t] = P_m s_i + Q_m e_{m,i} + σ ε_t``,  ``s_i ~ N(0, I_k)`` (shared, seen by every modality),
``e_{m,i} = b ⊙ g`` with ``b ~ Bernoulli(p)``, ``g ~ N(0, I_q)`` (sparse, specific to ``m``).

The label mixes both parts, ``y = 3 tanh((a·s + Σ_m c_m·e_m) / scale)``, so no single modality can
predict it fully: a multimodal model must beat every unimodal one. A share ``conflict`` of samples
has one randomly chosen modality see ``-s`` (modalities disagree). The ground truth (``s``, ``e_m``,
conflict flags, projections) is kept so tests can check what a model or decomposition recovers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmaffect.data.bundle import DatasetBundle, SplitData
from mmaffect.types import TaskSpec

DEFAULT_DIMS = {"text": 32, "audio": 16, "vision": 24}
DEFAULT_STEPS = {"text": 8, "audio": 12, "vision": 10}


@dataclass
class SyntheticTruth:
    shared_projection: dict[str, np.ndarray]  # P_m  [D_m, k]
    specific_projection: dict[str, np.ndarray]  # Q_m  [D_m, q]
    shared_weight: np.ndarray  # a  [k]
    specific_weight: dict[str, np.ndarray]  # c_m  [q]


def make_synthetic(
    *,
    sizes: tuple[int, int, int] = (800, 200, 300),
    dims: dict[str, int] | None = None,
    steps: dict[str, int] | None = None,
    shared_rank: int = 4,
    specific_dim: int = 4,
    specific_density: float = 0.6,
    noise: float = 1.0,
    conflict: float = 0.1,
    task: str = "regression",
    num_classes: int = 3,
    seed: int = 0,
) -> DatasetBundle:
    """Build the synthetic dataset (splits train/valid/test of ``sizes``); ``task`` is ``regression``
    (labels in [-3, 3], MOSI metrics) or ``classification`` (``num_classes`` quantile bins of the same score)."""
    dims = dict(dims or DEFAULT_DIMS)
    steps = {m: (steps or DEFAULT_STEPS).get(m, 8) for m in dims}
    rng = np.random.default_rng(seed)
    truth = SyntheticTruth(
        shared_projection={m: rng.normal(size=(d, shared_rank)) / np.sqrt(shared_rank) for m, d in dims.items()},
        specific_projection={m: rng.normal(size=(d, specific_dim)) / np.sqrt(specific_dim) for m, d in dims.items()},
        shared_weight=rng.normal(size=shared_rank),
        specific_weight={m: rng.normal(size=specific_dim) * 1.2 for m in dims},
    )
    raw_splits = {name: _sample_split(n, dims, steps, truth, specific_density, noise, conflict, rng)
                  for name, n in zip(("train", "valid", "test"), sizes)}
    scores = raw_splits["train"]["score"]
    scale = float(np.std(scores)) or 1.0
    if task == "regression":
        spec = TaskSpec(kind="regression", metrics="msa", label_range=(-3.0, 3.0))
        to_label = lambda s: (3.0 * np.tanh(s / scale)).astype(np.float32)  # noqa: E731
    elif task == "classification":
        edges = np.quantile(scores, np.linspace(0, 1, num_classes + 1)[1:-1])
        spec = TaskSpec(kind="classification", metrics="binary" if num_classes == 2 else "classification",
                        num_classes=num_classes, label_names=[f"class_{i}" for i in range(num_classes)])
        to_label = lambda s: np.digitize(s, edges).astype(np.int64)  # noqa: E731
    else:
        raise ValueError(f"synthetic task must be 'regression' or 'classification', got {task!r}")
    splits = {}
    for name, raw in raw_splits.items():
        splits[name] = SplitData(
            features=raw["features"], lengths=raw["lengths"], labels=to_label(raw["score"]),
            ids=[f"{name}_{i}" for i in range(len(raw["score"]))],
            raw_text=None,
            extras={"shared_latent": raw["shared"], "conflict": raw["conflict"],
                    **{f"specific_latent_{m}": e for m, e in raw["specific"].items()}},
        )
    bundle = DatasetBundle("synthetic", spec, splits, {"generator": "mmaffect.data.synthetic", "seed": seed},
                           family="synthetic")
    bundle.provenance["truth"] = truth
    return bundle


def _sample_split(n, dims, steps, truth, density, noise, conflict, rng) -> dict:
    k = truth.shared_weight.shape[0]
    shared = rng.normal(size=(n, k))
    specific = {m: rng.normal(size=(n, truth.specific_projection[m].shape[1]))
                * (rng.random((n, truth.specific_projection[m].shape[1])) < density) for m in dims}
    is_conflict = rng.random(n) < conflict
    flipped = rng.integers(0, len(dims), size=n)
    score = shared @ truth.shared_weight + sum(specific[m] @ truth.specific_weight[m] for m in dims)
    features, lengths = {}, {}
    for j, (m, d) in enumerate(dims.items()):
        seen_shared = np.where((is_conflict & (flipped == j))[:, None], -shared, shared)
        signal = seen_shared @ truth.shared_projection[m].T + specific[m] @ truth.specific_projection[m].T
        t_max = steps[m]
        length = rng.integers(max(1, t_max // 2), t_max + 1, size=n)
        x = signal[:, None, :] + noise * rng.normal(size=(n, t_max, d))
        x[np.arange(t_max)[None, :] >= length[:, None]] = 0.0
        features[m] = x.astype(np.float32)
        lengths[m] = length.astype(np.int64)
    return {"features": features, "lengths": lengths, "score": score, "shared": shared.astype(np.float32),
            "specific": {m: e.astype(np.float32) for m, e in specific.items()},
            "conflict": is_conflict}
