"""Singular-value thresholding with its nuclear norm, by interchangeable spectral routes.

    SVT(Z, t) = U max(Σ − t, 0) Vᵀ,        ||SVT(Z, t)||_* = Σ_i max(σ_i − t, 0)

Routes (same result to rounding, :func:`svt_with_norm`):

- ``gram_eigh``: eigendecomposition of the ``k×k`` Gram matrix (``k = min(n, c)``): with
  ``ZZᵀ = QΛQᵀ``, ``SVT(Z, t) = Q h(Λ) Qᵀ Z``, ``h(λ) = max(1 − t/√λ, 0)``. On CPU about 3× cheaper
  than an SVD of a 49×64 matrix (``benchmarks/bench_decomposition.py --kernels``); the default there.
- ``svd`` / ``svd_<driver>``: ``torch.linalg.svd`` (on CUDA with the cuSOLVER driver ``gesvd``,
  ``gesvdj`` or ``gesvda``).

On CUDA, batched ``eigh`` slows down sharply above n = 32 (PyTorch issue #175585), so the fastest
route depends on the shape and the driver: :func:`pick_route` times every route once per
``(device, n, c, dtype)`` on the tensor it is given and remembers the winner (the way cuDNN's
benchmark mode picks convolution algorithms; :func:`fastest_route`). No library offers this choice
for batched SVT.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["ROUTES", "fastest_route", "pick_route", "svt_with_norm"]

_CUDA_DRIVERS = ("gesvd", "gesvdj", "gesvda")
_CHOSEN: dict[tuple[str, int, int, torch.dtype], str] = {}


def _gram_eigh(z: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    left = z.shape[-2] <= z.shape[-1]
    ev, q = torch.linalg.eigh(z @ z.mT if left else z.mT @ z)
    sig = ev.clamp_min(0.0).sqrt()
    tt = t.view(-1, 1)
    h = (1.0 - tt / sig.clamp_min(torch.finfo(sig.dtype).tiny)).clamp_min(0.0)
    p = (q * h.unsqueeze(-2)) @ q.mT
    return (p @ z if left else z @ p), (sig - tt).clamp_min(0.0).sum(-1)


def _svd(driver: str | None) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    def route(z: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        u, s, vh = torch.linalg.svd(z, full_matrices=False, driver=driver)
        shrunk = (s - t.view(-1, 1)).clamp_min(0.0)
        return (u * shrunk.unsqueeze(-2)) @ vh, shrunk.sum(-1)

    return route


ROUTES: dict[str, Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]] = {
    "gram_eigh": _gram_eigh,
    "svd": _svd(None),
    **{f"svd_{d}": _svd(d) for d in _CUDA_DRIVERS},
}


def svt_with_norm(z: Tensor, t: Tensor, route: str = "gram_eigh") -> tuple[Tensor, Tensor]:
    """``(SVT(Z, t), ||SVT(Z, t)||_*)`` for ``z`` ``[b, n, c]`` and per-sample thresholds ``t`` ``[b]``."""
    if route not in ROUTES:
        raise ValueError(f"unknown SVT route {route!r}; choose one of {sorted(ROUTES)}")
    return ROUTES[route](z, t)


def _candidates(device: torch.device) -> list[str]:
    return ["gram_eigh", *(f"svd_{d}" for d in _CUDA_DRIVERS)] if device.type == "cuda" else ["gram_eigh", "svd"]


def fastest_route(z: Tensor, t: Tensor, candidates: list[str], *, repeats: int = 3,
                  timer: Callable[[], float] = time.perf_counter, sync: Callable[[], None] = lambda: None) -> str:
    """The candidate route with the least time for ``repeats`` calls on ``(z, t)`` after one warm-up;
    a route that raises ``RuntimeError`` (a driver missing in this build, or not converging) is
    skipped; ``gram_eigh`` when none runs."""
    best, best_time = "gram_eigh", float("inf")
    for name in candidates:
        try:
            ROUTES[name](z, t)  # warm-up
            sync()
            start = timer()
            for _ in range(repeats):
                ROUTES[name](z, t)
            sync()
            elapsed = timer() - start
        except RuntimeError:
            continue
        if elapsed < best_time:
            best, best_time = name, elapsed
    return best


def pick_route(z: Tensor, t: Tensor) -> str:
    """The route for ``z``'s device and matrix shape: ``gram_eigh`` on CPU; elsewhere
    :func:`fastest_route` of the device's candidates at the first call for an ``(n, c, dtype)``, cached
    (batch sizes vary as samples converge)."""
    if z.device.type == "cpu":
        return "gram_eigh"
    key = (str(z.device), z.shape[-2], z.shape[-1], z.dtype)
    if key not in _CHOSEN:
        sync = torch.cuda.synchronize if z.device.type == "cuda" else (lambda: None)
        _CHOSEN[key] = fastest_route(z, t, _candidates(z.device), sync=sync)
    return _CHOSEN[key]
