"""Joint low-rank + sparse decomposition of aligned modality matrices (Representation Decomposition).

For one sample, ``M ≥ 2`` aligned token matrices ``X_m ∈ R^{n×c}`` are split into one shared low-rank
matrix and one sparse matrix per modality (arXiv 2506.07086, section 3):

    min_{L, S_1..S_M}  ||L||_* + λ Σ_m ||S_m||_1    s.t.  X_m = L + S_m,  m = 1..M.

It is solved by the augmented Lagrangian method with duals ``Y_m`` and penalty ``μ``. One iteration:

    S_m ← shrink(X_m − L + Y_m/μ, λ/μ)                shrink(v, t) = sign(v) max(|v| − t, 0)
    A   ← (1/M) Σ_m (X_m − S_m + Y_m/μ)
    L   ← SVT(A, 1/(Mμ))                              SVT(A, t) = U max(Σ − t, 0) Vᵀ
    Y_m ← Y_m + μ (X_m − L − S_m)
    μ   ← min(ρ μ, μ_max)

``SVT(A, 1/(Mμ))`` is the exact minimiser of the L-subproblem ``||L||_* + (Mμ/2) ||L − A||_F²``; the
official code thresholds at ``1/μ``, which over-shrinks L by a factor M (``svt_compat=True``).
A sample stops after the first iteration where ``max_m ||X_m − L − S_m||_F / ||X_m||_F < tol`` and is
then frozen; iteration counts are per sample.

Implementation (all of it computes the iteration above, to rounding):

- the duals are kept as ``W_m = X_m + Y_m/μ``; since ``X_m − S_m + Y_m/μ − L = clamp(W_m − L, ±λ/μ)``,
  one iteration is ``C = clamp(W − L)``, ``A = L + mean_m C``, ``L' = SVT(A)``,
  ``W' = X + C + (L − L')`` (times ``μ/μ'`` when μ grows), ``R = W' − W``;
- SVT through the ``k×k`` Gram matrix (``k = min(n, c)``), in float64: with ``G = AAᵀ = QΛQᵀ``,
  ``SVT(A, t) = Q h(Λ) Qᵀ A`` where ``h(λ) = max(1 − t/√λ, 0)`` (:mod:`mmaffect.ops.svt_routes`, shared with
  the ``accurate`` preset);
- samples that converge leave the working set at once (their results are final) and waiting samples
  take their place, so the working set stays full until the queue runs dry; on CPU the batch is
  split into ``torch.get_num_threads()`` parts, each solved by a single-threaded worker over a
  cache-sized working set (small per-op tensors gain nothing from intra-op threads, and lose a lot
  on a busy machine).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from mmaffect.ops.svt_routes import svt_with_norm

__all__ = [
    "PRESETS",
    "DecompositionResult",
    "decompose",
    "nuclear_norm",
    "objective",
    "singular_value_threshold",
    "soft_threshold",
]

SvtMethod = Literal["auto", "eigh", "svd"]

PRESETS: dict[str, dict[str, float | int | None]] = {
    # the paper's settings: fixed penalty
    "paper": {"lam": 1.0, "mu": 10.0, "max_iter": 3000, "tol": 1e-6, "rho": 1.0},
    # inexact ALM (Lin et al., 2010): μ0 = 1.25 / max_m ||X_m||_2 grown by ρ per iteration,
    # λ = 1/√max(n, c) (None = computed from the input)
    "fast": {"lam": None, "mu": None, "max_iter": 500, "tol": 1e-7, "rho": 1.5},
    # the paper's problem (λ = 1) to a certified optimum: over-relaxed ADMM on L = V with the median
    # prox, residual balancing, Anderson acceleration, float32 phase and float64 finish
    # (ops/decomposition_accurate.py); stops on a certified relative duality gap ≤ gap_tol (1e-8), or
    # after 200 iterations ≤ 1e-6
    "accurate": {"lam": 1.0, "mu": None, "max_iter": 2000, "tol": 1e-6, "rho": 1.0},
}

_CORE_FIELDS = ("low_rank", "sparse", "iterations", "residual", "converged")

# CPU working-set target per chunk (bytes), so that the per-iteration passes stay in cache
_CHUNK_BYTES = 8 << 20


@dataclass(frozen=True)
class DecompositionResult:
    """Output of :func:`decompose` for a batch of ``B`` samples.

    ``low_rank`` ``[B, n, c]`` (L), ``sparse`` ``[B, M, n, c]`` (S_m), ``iterations`` ``[B]`` int64,
    ``residual`` ``[B]`` (``max_m ||X_m − L − S_m||_F / ||X_m||_F`` at the last iteration) and
    ``converged`` ``[B]`` bool (``residual < tol``). The ``accurate`` preset also fills
    ``dual_residual`` ``[B]`` and ``gap`` ``[B]`` (relative duality gap, an upper bound on the relative
    objective gap; see :mod:`mmaffect.ops.decomposition_accurate`), and ``converged`` means its
    certified stopping rule held.
    """

    low_rank: Tensor
    sparse: Tensor
    iterations: Tensor
    residual: Tensor
    converged: Tensor
    dual_residual: Tensor | None = None
    gap: Tensor | None = None


# --------------------------------------------------------------------------------------------------
# pure helpers


def soft_threshold(x: Tensor, tau: float | Tensor) -> Tensor:
    """Elementwise shrinkage ``sign(x) max(|x| − τ, 0) = x − clamp(x, −τ, τ)`` (prox of ``τ||·||_1``)."""
    return x - torch.clamp(x, min=-tau, max=tau)


def singular_value_threshold(a: Tensor, tau: float | Tensor) -> Tensor:
    """``SVT(A, τ) = U max(Σ − τ, 0) Vᵀ`` over the last two dims (prox of ``τ||·||_*``).

    ``tau`` is a float or a tensor broadcastable to the batch dims of ``a``.
    """
    u, s, vh = torch.linalg.svd(a, full_matrices=False)
    tau_t = torch.as_tensor(tau, dtype=s.dtype, device=s.device)
    return (u * torch.clamp(s - tau_t[..., None], min=0.0).unsqueeze(-2)) @ vh


def nuclear_norm(a: Tensor) -> Tensor:
    """``||A||_* = Σ_i σ_i(A)`` over the last two dims."""
    return torch.linalg.svdvals(a).sum(-1)


def objective(low_rank: Tensor, sparse: Tensor, lam: float | Tensor) -> Tensor:
    """Per-sample objective ``||L||_* + λ Σ_m ||S_m||_1`` for ``L [B, n, c]``, ``S [B, M, n, c]``."""
    lam_t = torch.as_tensor(lam, dtype=sparse.dtype, device=sparse.device)
    return nuclear_norm(low_rank) + lam_t * sparse.abs().sum(dim=(-3, -2, -1))


# --------------------------------------------------------------------------------------------------
# the solver


def _validate(x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"decompose expects a torch.Tensor [B, M, n, c], got {type(x).__name__}")
    shape = tuple(x.shape)
    if x.ndim != 4:
        raise ValueError(f"decompose expects X of shape [B, M, n, c] (rank 4), got shape {shape}")
    if shape[1] < 2:
        raise ValueError(f"decompose needs M >= 2 modalities (dim 1 of X), got shape {shape}")
    if min(shape) == 0:
        raise ValueError(f"decompose got an empty dimension in X of shape {shape}")
    if not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64, torch.int16, torch.int8, torch.uint8)):
        raise ValueError(f"decompose expects a real floating tensor, got dtype {x.dtype} (shape {shape})")
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = (~finite).reshape(shape[0], -1).any(-1).nonzero().squeeze(-1).tolist()
        raise ValueError(f"X of shape {shape} has non-finite values in sample(s) {bad[:10]}")


def _resolve(
    preset: str | None, lam: float | None, mu: float | None, max_iter: int | None, tol: float | None,
    rho: float | None,
) -> tuple[float | None, float | None, int, float, float]:
    name = "paper" if preset is None else preset
    if name not in PRESETS:
        raise ValueError(f"unknown decomposition preset {preset!r}; choose one of {sorted(PRESETS)}")
    p = PRESETS[name]
    lam = p["lam"] if lam is None else lam  # type: ignore[assignment]
    mu = p["mu"] if mu is None else mu  # type: ignore[assignment]
    max_iter = int(p["max_iter"] if max_iter is None else max_iter)  # type: ignore[arg-type]
    tol = float(p["tol"] if tol is None else tol)  # type: ignore[arg-type]
    rho = float(p["rho"] if rho is None else rho)  # type: ignore[arg-type]
    if lam is not None and not lam > 0:
        raise ValueError(f"lam must be > 0, got {lam}")
    if mu is not None and not mu > 0:
        raise ValueError(f"mu must be > 0, got {mu}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if not rho >= 1:
        raise ValueError(f"rho must be >= 1, got {rho}")
    return lam, mu, max_iter, tol, rho


def _spectral_norm(x: Tensor) -> Tensor:
    """``max_m ||X_m||_2`` per sample (float64), from the eigenvalues of the small Gram matrices."""
    x64 = x.to(torch.float64)
    left = x.shape[-2] <= x.shape[-1]
    g = x64 @ x64.mT if left else x64.mT @ x64
    return torch.linalg.eigvalsh(g)[..., -1].clamp_min(0.0).sqrt().amax(dim=-1)


def decompose(
    X: Tensor,
    *,
    lam: float | None = None,
    mu: float | None = None,
    max_iter: int | None = None,
    tol: float | None = None,
    preset: str | None = None,
    rho: float | None = None,
    mu_max: float = 1e7,
    svt_compat: bool = False,
    dtype: torch.dtype | None = None,
    svt: SvtMethod = "auto",
    gap_tol: float = 1e-8,
) -> DecompositionResult:
    """Decompose ``X`` ``[B, M, n, c]`` into ``L + S_m`` per sample (see the module docstring).

    ``preset``: ``"paper"`` (default; λ = 1, μ = 10 fixed, 3000 iterations, tol 1e-6, as the paper) or
    ``"fast"`` (inexact ALM: μ0 = 1.25 / max_m ||X_m||_2, ×ρ = 1.5 per iteration up to ``mu_max``,
    λ = 1/√max(n, c), 500 iterations, tol 1e-7). Explicit ``lam``, ``mu``, ``max_iter``, ``tol``, ``rho``
    override the preset. Duals start at zero. ``svt_compat`` thresholds L at 1/μ (the official code)
    instead of the exact 1/(Mμ). ``dtype`` (float32 or float64; default: X's floating dtype) is the
    compute and output dtype; the SVT itself runs in float64. ``svt``: ``"auto"``/``"eigh"`` (Gram
    eigendecomposition) or ``"svd"`` (batched ``torch.linalg.svd``); both give the same result to
    rounding.

    ``"accurate"``: the paper's problem (λ = 1 unless given) solved by a different, faster algorithm
    (:mod:`mmaffect.ops.decomposition_accurate`) to a certified point: a relative duality gap below
    ``gap_tol`` (1e-8), or after 200 iterations below ``100 gap_tol`` (ill-conditioned samples); ``gap``
    reports each sample's certified bound on its relative objective gap, ``dual_residual`` and
    ``residual`` its KKT residuals (``tol`` applies only where no gap exists, λM < 1). ``svt`` picks the spectral
    route (``auto``: Gram ``eigh`` on CPU, timed per shape on accelerators); ``mu``, ``rho`` and
    ``svt_compat`` do not apply. Its L is closer to the optimum than the ``paper`` preset's on random,
    real token and planted M = 3 inputs (docs/benchmarks.md; planted M = 2 pairs at 49×64 are the
    exception), in 3–20× fewer iterations. ``"fast"`` is approximate: with
    its λ it solves a different problem, and with ``lam=1`` its fast-growing μ stops far (tens of %)
    from the optimum's L.
    """
    _validate(X)
    lam_v, mu_v, max_iter_v, tol_v, rho_v = _resolve(preset, lam, mu, max_iter, tol, rho)
    if dtype is None:
        dtype = X.dtype if X.dtype in (torch.float32, torch.float64) else torch.float32
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if svt not in ("auto", "eigh", "svd"):
        raise ValueError(f"svt must be one of auto, eigh, svd; got {svt!r}")
    method = "eigh" if svt == "auto" else svt
    if not mu_max > 0:
        raise ValueError(f"mu_max must be > 0, got {mu_max}")
    if preset == "accurate":
        return _decompose_accurate(X, lam=float(lam_v or 1.0), max_iter=max_iter_v, tol=tol_v,
                                   gap_tol=gap_tol, dtype=dtype, svt=svt)

    x = X.to(dtype)
    b, m, n, c = x.shape
    lam_f = float(lam_v) if lam_v is not None else 1.0 / math.sqrt(max(n, c))
    if mu_v is not None:
        mu0 = torch.full((b,), float(mu_v), dtype=torch.float64, device=x.device)
    else:
        mu0 = 1.25 / _spectral_norm(x).clamp_min(torch.finfo(torch.float64).tiny)

    out = DecompositionResult(
        low_rank=torch.empty(b, n, c, dtype=dtype, device=x.device),
        sparse=torch.empty(b, m, n, c, dtype=dtype, device=x.device),
        iterations=torch.empty(b, dtype=torch.int64, device=x.device),
        residual=torch.empty(b, dtype=dtype, device=x.device),
        converged=torch.empty(b, dtype=torch.bool, device=x.device),
    )
    kw = dict(lam=lam_f, rho=rho_v, mu_max=float(mu_max), max_iter=max_iter_v, tol=tol_v,
              compat=svt_compat, method=method)
    if x.device.type != "cpu":
        _solve(x, mu0, out, working=b, **kw)
        return out
    # CPU: one contiguous part per intra-op thread, each solved by a single-threaded worker over a
    # cache-sized working set that is refilled as samples converge
    threads = torch.get_num_threads()
    working = max(1, _CHUNK_BYTES // (3 * m * n * c * x.element_size()))
    parts = max(1, min(threads, b))
    bounds = [round(i * b / parts) for i in range(parts + 1)]
    slices = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]

    def run(sl: slice) -> None:
        part = DecompositionResult(*(getattr(out, f)[sl] for f in _CORE_FIELDS))
        _solve(x[sl], mu0[sl], part, working=working, **kw)

    try:
        with ThreadPoolExecutor(len(slices), initializer=torch.set_num_threads, initargs=(1,)) as pool:
            list(pool.map(run, slices))
    finally:
        torch.set_num_threads(threads)
    return out


class _State:
    """The working set of the solver: per-sample tensors, all indexed alike along dim 0."""

    fields = ("x", "w", "low", "mu", "idx", "its", "x_norm", "stop_norm")

    def __init__(self, **tensors: Tensor) -> None:
        for k in self.fields:
            setattr(self, k, tensors[k])

    def select(self, keep: Tensor) -> None:
        for k in self.fields:
            setattr(self, k, getattr(self, k)[keep])

    def extend(self, other: _State) -> None:
        for k in self.fields:
            setattr(self, k, torch.cat([getattr(self, k), getattr(other, k)]))

    def __len__(self) -> int:
        return self.idx.shape[0]


def _initial_state(x: Tensor, mu: Tensor, start: int, stop: int, tol: float) -> _State:
    xs = x[start:stop].contiguous()
    b, _, n, c = xs.shape
    x_norm = torch.linalg.vector_norm(xs, dim=(-2, -1)).clamp_min(torch.finfo(xs.dtype).tiny)  # [b, M]
    return _State(  # W_m = X_m + Y_m/μ starts at X_m (duals at zero), L at zero
        x=xs, w=xs.clone(), low=torch.zeros(b, n, c, dtype=xs.dtype, device=xs.device), mu=mu[start:stop].clone(),
        idx=torch.arange(start, stop, device=xs.device), its=torch.zeros(b, dtype=torch.int64, device=xs.device),
        x_norm=x_norm, stop_norm=tol * x_norm)


def _solve(
    x: Tensor, mu: Tensor, out: DecompositionResult, *, working: int, lam: float, rho: float,
    mu_max: float, max_iter: int, tol: float, compat: bool, method: str,
) -> None:
    """Run the ALM on ``x``, at most ``working`` samples at a time, writing each sample's result into
    ``out`` when it stops; the working set is refilled from the remaining samples as others stop."""
    b, m, n, c = x.shape
    dtype = x.dtype
    route = "gram_eigh" if method == "eigh" else "svd"  # ops/svt_routes.py
    inv_m = 1.0 / m
    tau_scale = 1.0 if compat else inv_m
    queued = min(b, working)
    st = _initial_state(x, mu, 0, queued, tol)
    buf = torch.empty_like(st.x)

    def thresholds(mu: Tensor) -> tuple[Tensor, Tensor]:
        return (lam / mu).to(dtype).view(-1, 1, 1, 1), tau_scale / mu

    theta, tau = thresholds(st.mu)
    while True:
        # C = clamp(W − L, ±λ/μ) = X − S + Y/μ − L ;  A = L + mean_m C
        torch.sub(st.w, st.low.unsqueeze(1), out=buf)
        buf.clamp_(min=-theta, max=theta)
        a = torch.add(st.low, buf.sum(dim=1), alpha=inv_m)
        new_low = svt_with_norm(a.to(torch.float64), tau, route)[0].to(dtype)
        # W + R = X + C + (L − L')
        buf.add_(st.x).add_(st.low.sub_(new_low).unsqueeze(1))
        st.low = new_low
        st.w.sub_(buf)  # −R
        r_norm = torch.linalg.vector_norm(st.w, dim=(-2, -1))  # [b, M]
        if rho != 1.0:
            # W' = X + Y'/μ' = X + (μ/μ')(W + R − X)
            mu_next = torch.clamp(st.mu * rho, max=mu_max)
            ratio = (st.mu / mu_next).to(dtype).view(-1, 1, 1, 1)
            buf.mul_(ratio).addcmul_(st.x, 1.0 - ratio)
            st.mu = mu_next
            theta, tau = thresholds(st.mu)
        st.w, buf = buf, st.w  # buf now holds −R
        st.its += 1
        done = (r_norm < st.stop_norm).all(dim=1) | (st.its >= max_iter)
        if not bool(done.any()):
            continue
        sel = done.nonzero().squeeze(-1)
        dst = st.idx[sel]
        residual = (r_norm[sel] / st.x_norm[sel]).amax(dim=1)
        # S = X − L − R
        out.sparse[dst] = st.x[sel] - st.low[sel].unsqueeze(1) + buf[sel]
        out.low_rank[dst] = st.low[sel]
        out.iterations[dst] = st.its[sel]
        out.residual[dst] = residual
        out.converged[dst] = residual < tol
        st.select(~done)
        if queued < b:
            extra = min(b - queued, working - len(st))
            st.extend(_initial_state(x, mu, queued, queued + extra, tol))
            queued += extra
        if len(st) == 0:
            return
        theta, tau = thresholds(st.mu)
        buf = torch.empty_like(st.x)


def _decompose_accurate(
    x: Tensor, *, lam: float, max_iter: int, tol: float, gap_tol: float, dtype: torch.dtype, svt: str = "auto",
) -> DecompositionResult:
    """The ``accurate`` preset (see :mod:`mmaffect.ops.decomposition_accurate`)."""
    from mmaffect.ops.decomposition_accurate import ACCURATE_DEFAULTS, solve_accurate

    if not gap_tol > 0:
        raise ValueError(f"gap_tol must be > 0, got {gap_tol}")
    route = {"auto": "auto", "eigh": "gram_eigh", "svd": "svd"}[svt]
    opts = dict(ACCURATE_DEFAULTS, lam=lam, max_iter=max_iter, tol=tol, gap_tol=gap_tol, svt=route)
    res = solve_accurate(x, opts)
    return DecompositionResult(
        low_rank=res["low_rank"].to(dtype), sparse=res["sparse"].to(dtype), iterations=res["iterations"],
        residual=res["residual"].to(dtype), converged=res["converged"],
        dual_residual=res["dual_residual"], gap=res["gap"])
