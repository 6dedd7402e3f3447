"""Cross-modal retrieval metrics and the PMRL alignment score (NumPy).

Retrieval of ``b`` from ``a``: query ``i`` scores every candidate ``j`` by cosine similarity
``s_ij = <â_i, b̂_j>``; its match is candidate ``i``; its rank is ``1 + #{j : s_ij > s_ii}`` (ties count
in the query's favour). ``R@K = mean_i [rank_i ≤ K]`` (a fraction in [0, 1]), ``MedR = median_i rank_i``.
"""

from __future__ import annotations

from itertools import permutations
from typing import Any, Mapping

import numpy as np

from mmaffect.metrics._common import check_finite, to_numpy

__all__ = ["alignment_score", "cross_modal_retrieval", "retrieval_metrics", "retrieval_ranks"]

_CHUNK = 1024


def _unit_rows(x: Any, name: str) -> np.ndarray:
    a = to_numpy(x).astype(np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be [N, d] embeddings, got shape {a.shape}")
    if len(a) == 0:
        raise ValueError(f"cannot score an empty set: {name} has 0 rows")
    check_finite(a, name)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def retrieval_ranks(a: Any, b: Any) -> np.ndarray:
    """1-based rank ``[N]`` of ``b[i]`` among all rows of ``b`` for the query ``a[i]`` (cosine similarity)."""
    qa, kb = _unit_rows(a, "a"), _unit_rows(b, "b")
    if qa.shape != kb.shape:
        raise ValueError(f"a and b must have the same shape [N, d], got {qa.shape} and {kb.shape}")
    ranks = np.empty(len(qa), dtype=np.int64)
    for start in range(0, len(qa), _CHUNK):
        s = qa[start:start + _CHUNK] @ kb.T
        rows = np.arange(len(s))
        own = s[rows, start + rows][:, None]
        ranks[start:start + len(s)] = 1 + (s > own).sum(axis=1)
    return ranks


def retrieval_metrics(a: Any, b: Any, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """``R@K`` for each ``K`` in ``ks`` and ``MedR`` for retrieving ``b[i]`` from the query ``a[i]``."""
    ranks = retrieval_ranks(a, b)
    out = {f"R@{k}": float(np.mean(ranks <= k)) for k in ks}
    out["MedR"] = float(np.median(ranks))
    return out


def cross_modal_retrieval(embeddings: Mapping[str, Any], ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """:func:`retrieval_metrics` for every ordered pair of modalities, keys like ``text->audio/R@1``."""
    if len(embeddings) < 2:
        raise ValueError(f"cross-modal retrieval needs at least 2 modalities, got {list(embeddings)}")
    out: dict[str, float] = {}
    for src, dst in permutations(embeddings, 2):
        try:
            scores = retrieval_metrics(embeddings[src], embeddings[dst], ks)
        except ValueError as err:
            raise ValueError(f"{src}->{dst}: {err}") from None
        out.update({f"{src}->{dst}/{k}": v for k, v in scores.items()})
    return out


def alignment_score(embeddings: Mapping[str, Any]) -> float:
    """``mean_i σ_1(Z_i) / √M`` in ``[1/√M, 1]``, ``Z_i`` the ``d×M`` matrix of sample ``i``'s
    L2-normalised modality embeddings (1 = all modalities collinear; PMRL, arXiv 2507.17343)."""
    if not embeddings:
        raise ValueError("alignment_score needs at least one modality")
    mats = [_unit_rows(x, f"embeddings[{m!r}]") for m, x in embeddings.items()]
    shapes = {m: z.shape for m, z in zip(embeddings, mats)}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"all modalities must have the same [N, d] shape, got {shapes}")
    Z = np.stack(mats, axis=1)  # [N, M, d]
    lam = np.linalg.eigvalsh(Z @ Z.transpose(0, 2, 1))[:, -1]
    return float(np.mean(np.sqrt(np.maximum(lam, 0.0)) / np.sqrt(Z.shape[1])))
