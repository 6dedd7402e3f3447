"""The decompose job (``mmaffect decompose``): add the joint low-rank + sparse decomposition to a native dataset.

For every sample, the token matrices of ``M ≥ 2`` modalities are brought to ``[n, c]``
(:func:`mmaffect.ops.token_matrix.to_token_matrix`: groups of dimensions averaged to ``c`` columns,
real rows repeated or truncated to ``n``) and decomposed, ``X_m = L + S_m``
(:func:`mmaffect.ops.decomposition.decompose`, arXiv 2506.07086). The dataset gains the modalities
``rd_low_rank`` ``[N, n, c]`` and ``rd_sparse_<m>`` ``[N, n, c]`` (all ``n`` rows real), which the
``rd`` model reads with ``decomposition: precomputed``.

Batched, with a progress bar, resumable: rows go into memory-mapped ``.npy`` files under
``<dataset>/.partial/`` with the number of finished rows (and the settings, the solver's defaults
included) recorded after every batch; a re-run with the same settings continues from there, one with
other settings starts over. Each output modality is then added atomically
(:func:`mmaffect.data.native.add_modality`). The settings and per-split solver statistics are written to
``<dataset>/rd_decomposition.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmaffect.jobs.resumable import ResumableArrays, progress_bar, remove_if_empty, write_json_atomic
from mmaffect.types import LOW_RANK, decomposition_names, is_decomposition_modality

REPORT = "rd_decomposition.json"
STATS = "rd_solver_stats"  # per-sample [iterations, residual, converged, gap], kept in .partial/ until done
STATS_COLUMNS = "iterations,residual,converged,gap"


@dataclass(frozen=True)
class DecomposeSettings:
    """What determines the output (a resumed run must use the same)."""

    modalities: tuple[str, ...]
    rows: int = 49
    columns: int = 64
    row_fit: str = "repeat"
    preset: str = "accurate"
    lam: float | None = None
    max_iter: int | None = None
    svt_compat: bool = False


def solver_defaults(preset: str) -> dict[str, Any]:
    """The defaults of ``preset``'s solver (stopping rule included), recorded with a partial run and in the
    report: a run resumed after they changed (e.g. a new ``gap_tol`` default) starts over instead of
    mixing rows solved to different targets."""
    from mmaffect.ops.decomposition import PRESETS
    from mmaffect.ops.decomposition_accurate import ACCURATE_DEFAULTS

    return dict(ACCURATE_DEFAULTS) if preset == "accurate" else dict(PRESETS.get(preset, {}))


def decompose_batch(features: list[np.ndarray], lengths: list[np.ndarray], settings: DecomposeSettings,
                    device: str = "cpu") -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """One batch: per-modality ``[b, T_m, D_m]`` arrays -> ``L`` ``[b, n, c]``, ``S`` ``[b, M, n, c]``, solver stats."""
    from mmaffect.ops.decomposition import decompose
    from mmaffect.ops.token_matrix import to_token_matrix

    x = torch.stack([
        to_token_matrix(torch.from_numpy(np.array(f, dtype=np.float32)).to(device),
                        torch.from_numpy(np.asarray(lens, dtype=np.int64)).to(device),
                        settings.rows, settings.columns, settings.row_fit)  # type: ignore[arg-type]
        for f, lens in zip(features, lengths)], dim=1)
    result = decompose(x, preset=settings.preset, lam=settings.lam, max_iter=settings.max_iter,
                       svt_compat=settings.svt_compat)
    gap = result.gap.cpu().numpy() if result.gap is not None else np.full(len(result.iterations), np.nan)
    stats = {"iterations": result.iterations.cpu().numpy(), "residual": result.residual.cpu().numpy(),
             "converged": result.converged.cpu().numpy(), "gap": gap}  # gap: the accurate preset's certificate
    return result.low_rank.cpu().numpy(), result.sparse.cpu().numpy(), stats


def decompose_dataset(dataset_dir: str | Path, *, modalities: list[str] | None = None, rows: int = 49,
                      columns: int = 64, row_fit: str = "repeat", preset: str = "accurate", lam: float | None = None,
                      max_iter: int | None = None, svt_compat: bool = False, batch_size: int = 256,
                      device: str | None = None, progress: bool = True, replace: bool = False) -> dict[str, Any]:
    """Add ``rd_low_rank`` and ``rd_sparse_<m>`` to the native dataset at ``dataset_dir``; return the report
    (settings, outputs, per-split solver statistics; empty when there was nothing to do).

    ``modalities``: the ``M ≥ 2`` token-state modalities to decompose (default: every modality that is
    not itself a decomposition output). ``replace``: first remove a decomposition already in the dataset
    (e.g. one made with other settings) and compute it again.
    """
    from mmaffect.data.native import add_modality, read_native, remove_modality

    dataset_dir = Path(dataset_dir)
    if replace:
        for name in [m for m in read_native(dataset_dir).modalities if is_decomposition_modality(m)]:
            remove_modality(dataset_dir, name)
        (dataset_dir / REPORT).unlink(missing_ok=True)
    bundle = read_native(dataset_dir)
    names = list(modalities) if modalities else [m for m in bundle.modalities if not is_decomposition_modality(m)]
    missing = [m for m in names if m not in bundle.modalities]
    if missing:
        raise ValueError(f"{dataset_dir}: no modality {missing}; it has {bundle.modalities}")
    if len(names) < 2:
        raise ValueError(f"{dataset_dir}: the decomposition needs at least two modalities, got {names}")
    if row_fit not in ("repeat", "pad"):
        raise ValueError(f"row_fit must be repeat or pad, got {row_fit!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    settings = DecomposeSettings(tuple(names), rows, columns, row_fit, preset, lam, max_iter, svt_compat)
    outputs = decomposition_names(names)
    present = [o for o in outputs if o in bundle.modalities]
    if len(present) == len(outputs):
        print(f"{dataset_dir}: {', '.join(outputs)} already present; nothing to do")
        return {}
    other = [m for m in bundle.modalities if is_decomposition_modality(m) and m not in outputs]
    if other and LOW_RANK in bundle.modalities:
        raise ValueError(f"{dataset_dir}: already holds a decomposition of other modalities ({other}); "
                         f"decompose a copy of the dataset instead")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    solver = solver_defaults(preset)
    partial = dataset_dir / ".partial"
    writers: dict[str, ResumableArrays] = {}
    shape = (rows, columns)
    with progress_bar(progress) as bar:
        for split_name, split in bundle.splits.items():
            n = len(split)
            shapes = {**{o: (n, *shape) for o in outputs if o not in present}, STATS: (n, 4)}
            writer = writers[split_name] = ResumableArrays(partial, "rd", split_name, shapes,
                                                           {**asdict(settings), "stats": STATS_COLUMNS,
                                                            "solver": solver},
                                                           {STATS: np.float64})
            task = bar.add_task(f"decompose {split_name}", total=n, completed=writer.done)
            for start in range(writer.done, n, batch_size):
                stop = min(start + batch_size, n)
                feats = [split.features[m][start:stop] for m in names]
                lens = [split.lengths[m][start:stop] for m in names]
                low, sparse, stats = decompose_batch(feats, lens, settings, device)
                block = {LOW_RANK: low, **{o: sparse[:, i] for i, o in enumerate(outputs[1:])},
                         STATS: np.stack([stats["iterations"], stats["residual"], stats["converged"], stats["gap"]],
                                         axis=1)}
                writer.write(start, {k: v for k, v in block.items() if k in writer.arrays})
                bar.update(task, completed=stop)
    full = {s: np.full(len(split), rows, dtype=np.int64) for s, split in bundle.splits.items()}
    for name in outputs:
        if name in present:
            continue
        add_modality(dataset_dir, name, {s: np.asarray(w.arrays[name]) for s, w in writers.items()}, full)
        for w in writers.values():
            w.remove(name)
    report = {"settings": asdict(settings), "solver": solver, "outputs": outputs,
              "splits": {s: _summary(np.asarray(w.arrays[STATS])) for s, w in writers.items()}}
    write_json_atomic(dataset_dir / REPORT, report)
    for w in writers.values():
        w.remove()
    remove_if_empty(partial)
    return report


def _summary(stats: np.ndarray) -> dict[str, float | None]:
    """Solver statistics of a split from its per-sample ``[iterations, residual, converged, gap]`` rows;
    ``max_gap`` (the largest certified relative duality gap) is ``None`` for presets without one."""
    if not len(stats):
        return {"mean_iterations": 0.0, "max_residual": 0.0, "converged_fraction": 1.0, "max_gap": None}
    gaps = stats[:, 3]
    return {"mean_iterations": float(stats[:, 0].mean()), "max_residual": float(stats[:, 1].max()),
            "converged_fraction": float(stats[:, 2].mean()),
            "max_gap": float(np.nanmax(gaps)) if bool(np.isfinite(gaps).any()) else None}
