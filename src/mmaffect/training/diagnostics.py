"""Alignment diagnostics of a trained model on a split: per pair of modalities the linear CKA and the
mean cosine of the pooled embeddings, σ₁/√M, and whatever per-sample diagnostics the model exposes
(``rd``: energies of L and each S, attention weights; ``decalign``: OT plan entropy)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from mmaffect.training.checkpoint import atomic_write_text
from mmaffect.training.inference import SplitPredictions


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al., ICML 2019): ``||Yᶜᵀ Xᶜ||_F² / (||Xᶜᵀ Xᶜ||_F ||Yᶜᵀ Yᶜ||_F)`` on centred rows."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    num = np.linalg.norm(y.T @ x) ** 2
    den = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(num / den) if den > 0 else 0.0


def mean_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """``mean_i <x_i, y_i> / (||x_i|| ||y_i||)`` (needs equal widths)."""
    nx = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return float(np.mean((x * y).sum(1) / np.maximum(nx, 1e-12)))


def transport_plan_entropy(pooled: dict[str, np.ndarray], num_prototypes: int = 7, eps: float = 0.1) -> dict:
    """DecAlign's prototype transport on a whole split: per-modality GMMs on the time-mean specific
    features, the multi-marginal entropic plan between their prototypes, and its entropy
    ``H(P) = −Σ P log P`` beside the entropy of the independent coupling ``⊗_m ν_m`` (the maximum)."""
    import torch

    from mmaffect.objectives.decalign import HeterogeneousAlignment
    from mmaffect.types import ModelOutput

    objective = HeterogeneousAlignment(num_prototypes=num_prototypes, eps=eps)
    specific = {m: torch.from_numpy(np.asarray(v, dtype=np.float32)) for m, v in pooled.items()}
    with torch.no_grad():
        objective(ModelOutput(torch.zeros(1), {"specific": specific}), None)
    plan = objective.last["plan"].double()
    entropy = float(-(plan * plan.clamp_min(1e-300).log()).sum())
    independent = sum(float(-(nu.double() * nu.double().clamp_min(1e-300).log()).sum())
                      for nu in objective.last["marginals"].values())
    return {"ot_plan_entropy": entropy, "independent_coupling_entropy": independent,
            "ot_plan_entropy_ratio": entropy / independent if independent > 0 else float("nan")}


def alignment_diagnostics(pred: SplitPredictions, model_name: str | None = None) -> dict:
    from mmaffect.metrics.retrieval import alignment_score

    pooled = pred.pooled
    out: dict = {"pairs": {}}
    for a, b in itertools.combinations(sorted(pooled), 2):
        entry = {"linear_cka": linear_cka(pooled[a], pooled[b])}
        if pooled[a].shape[1] == pooled[b].shape[1]:
            entry["mean_cosine"] = mean_cosine(pooled[a], pooled[b])
        out["pairs"][f"{a}~{b}"] = entry
    if len(pooled) >= 2 and len({v.shape[1] for v in pooled.values()}) == 1:
        out["sigma1_over_sqrtM"] = alignment_score(pooled)
    model_diag = {}
    for key, value in pred.diagnostics.items():
        value = np.asarray(value, dtype=float)
        model_diag[key] = ({"mean": float(value.mean())} if value.ndim == 1
                           else {"mean": value.reshape(len(value), -1).mean(0).tolist()})
    if model_name == "decalign" and len(pooled) >= 2:
        model_diag.update(transport_plan_entropy(pooled))
    out["model"] = model_diag
    return out


def write_diagnostics(report: dict, directory: Path) -> None:
    """``diagnostics.json`` and ``diagnostics.png`` (a CKA matrix between modalities)."""
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / "diagnostics.json", json.dumps(report, indent=2))
    pairs = report["pairs"]
    if not pairs:
        return
    names = sorted({n for pair in pairs for n in pair.split("~")})
    cka = np.eye(len(names))
    for pair, entry in pairs.items():
        a, b = pair.split("~")
        i, j = names.index(a), names.index(b)
        cka[i, j] = cka[j, i] = entry["linear_cka"]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.4 * len(names) + 2, 1.2 * len(names) + 1.5))
    image = ax.imshow(cka, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{cka[i, j]:.2f}", ha="center", va="center", color="w" if cka[i, j] < 0.6 else "k")
    title = "linear CKA of pooled embeddings"
    if "sigma1_over_sqrtM" in report:
        title += f"\nσ₁/√M = {report['sigma1_over_sqrtM']:.3f}"
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    from mmaffect.io import save_figure

    save_figure(fig, directory / "diagnostics.png")
