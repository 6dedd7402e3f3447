"""The ``accurate`` decomposition preset: the paper's problem solved to a certified optimum.

Problem (Representation Decomposition, arXiv 2506.07086, section 3), per sample, ``X_m ∈ R^{n×c}``:

    min_{L, S_m}  ||L||_* + λ Σ_m ||S_m||_1   s.t.  X_m = L + S_m      (λ = 1 unless given)

Eliminating ``S_m = X_m − V`` gives ``min_L g(L) + f(L)`` with ``g = ||·||_*`` and
``f(V) = λ Σ_m ||X_m − V||_1``. Both have cheap proximal maps: ``prox_{tg}`` is the SVT at ``t`` and
``prox_{tf}`` is elementwise, the median of ``2M + 1`` numbers (the prox of a sum of absolute
deviations):

    prox_{tf}(v) = median(X_1, .., X_M, v + tλM, v + tλ(M − 2), .., v − tλM).

(For sorted ``x_1 ≤ .. ≤ x_M`` this is a sum of ``M + 1`` clamps, :func:`prox_sum_abs_sorted`; ``X`` is
sorted once per solve.) They are combined by over-relaxed ADMM on ``L = V`` (Boyd et al. 2011,
§3.4.3), written as the relaxed Douglas–Rachford iteration on the prox input ``ζ``, relaxation
``α = 1.8``, step ``t`` (= 1/penalty):

    V  = prox_{tf}(ζ),   w = ζ − V                 w/t ∈ ∂f(V)                      (exact)
    L' = SVT(V − w, t)                              u = (V − w − L')/t ∈ ∂||L'||_*   (exact)
    ζ⁺ = T(ζ) = ζ + α(L' − V)

with residual balancing of ``t`` per sample (t halved when the primal residual exceeds 5× the dual
one, doubled in the opposite case; ``w`` rescaled with it). At a fixed ``t`` the map ``T`` is averaged,
and ``ζ⁺`` is the Anderson-accelerated point of the last 5 images (Walker & Ni 2011;
:mod:`mmaffect.ops.anderson`) when that lowers the fixed-point residual ``||T(ζ) − ζ||`` (else the plain
image, and the history restarts), a residual-decrease safeguard in the spirit of Zhang, O'Donoghue &
Boyd (2020), SIAM J. Optim. 30(4). It costs one Gram ``eigh`` per iteration like the paper's ALM (the SVT
route is chosen per shape on accelerators, :mod:`mmaffect.ops.svt_routes`); measured on 49×64 MMSD
token pairs (``benchmarks/decomposition_accurate_ablation.py``), Anderson cuts the iterations by a
third (134 → 92) for about 20 % more time per iteration; at 49×256 its history's memory traffic
doubles the time per iteration, a net loss, so it is used up to ``n·c ≤ anderson_max_entries`` (4096).

Certificate. Residuals of the ADMM pair (KKT conditions ``Y_m ∈ λ∂||S_m||_1``, ``Σ_m Y_m ∈ ∂||L||_*``;
with ``V' = prox_{tf}(T(ζ))`` and ``w' = T(ζ) − V'``, ``−w'/t ∈ ∂f(V')`` and ``u ∈ ∂||L'||_*`` hold exactly):

    primal residual   r_p = ||L' − V'||_F / min_m ||X_m||_F
    dual residual     r_d = ||u + w'/t||_F / ||u||_F

and the relative duality gap of the returned pair, which bounds its objective's distance to the
optimum whatever the algorithm did:

    η = (P(L) − D(u)) / P(L) ≥ (P(L) − P*) / P(L),      P(L) = ||L||_* + λ Σ_m ||X_m − L||_1

where ``D(u) = min_V f(V) + <u, V>`` is the dual objective at a dual-feasible ``u`` (``||u||_2 ≤ 1``),
per entry the minimum over ``k`` of ``u X_k + λ Σ_m |X_m − X_k|`` (needs ``λM ≥ 1``; otherwise ``η`` is
``inf`` and only the residuals are tested). Two dual points are tried and the larger ``D`` kept: the
ADMM's ``u`` and :func:`polished_dual`, the subgradient of ``||·||_*`` that the primal candidate points
at (``U_r V_rᵀ`` plus the ADMM dual's part orthogonal to it), which certifies samples whose primal is
exact long before the ADMM dual is (planted 49×64 M = 3 pairs: 11.8 instead of 83 mean iterations;
tried from ``polish_from_m`` = 3 modalities on, as at M = 2 it saved at most one check in 40
iterations, ``benchmarks/results/decomposition_accurate_ablation.md``). The
returned pair is the better of ``L'`` and ``V'`` by ``P`` (``V'``, the output of the median prox, is
often far better than ``L'``: at M = 3 it is optimal after a few iterations) with ``S_m = X_m − L``
(so ``X_m = L + S_m`` exactly).

Stopping rule (checked in float64 every ``check_every`` = 5 iterations and at the first float64 one):
a sample stops at the first check where

- ``η ≤ gap_tol`` (1e-8; with ``gap_alone=0`` also ``r_p, r_d ≤ tol``, as for the benchmarks'
  high-precision references);
- or it has run ``late_iter`` = 200 iterations and ``η ≤ 100 gap_tol`` (1e-6).

Why 1e-8: it is what it takes to be at least as close to the optimum's L as the paper's algorithm
(tol 1e-6) on every measured MMSD token pair (a gap of 1e-6 leaves L 10–30× farther on pairs where
that algorithm runs to its 3000-iteration cap); on random pairs it leaves L ~1e-6 from the optimum
where the paper's algorithm stops ~5e-2 away (``benchmarks/results/decomposition_tts_cpu.md``).

Degenerate optima converge slowly at any step: M = 2 with ``X_1 ≠ X_2`` on a set of entries (planted
low-rank + sparse pairs, and real token matrices, where ``X_1 ≠ X_2`` everywhere). For M = 2,
``f(V) = λΣ(hi − lo) + 2λ Σ dist(V_ij, [lo_ij, hi_ij])`` with ``lo, hi = min, max(X_1, X_2)``, an exact
penalty (every dual ``Y`` has ``|Y_ij| ≤ ||Y||_2 ≤ 1 < 2λ`` at λ = 1), so the problem is
``min ||L||_*  s.t.  lo ≤ L ≤ hi``: a box-constrained nuclear-norm completion. On token pairs it
converges linearly once the residual balancing is replaced (after ``stall_iter`` = 40 iterations
without a certificate, at a check where the gap fell less than 10× over the last two checks; random
pairs, still converging fast under the balancing, keep it) by the fixed step
``stall_step · mean(hi − lo)`` (the mean width of the flat intervals, balancing off). Planted M = 2 pairs are ill-conditioned (their optimum has rank ~20 with
no gap in its singular values, ``benchmarks/results/decomposition_accurate_ablation.md``; gaps fall
like 1/k, 1e-8 is out of reach in 2000 iterations); the late rule stops them at 1e-6. The first
iterations run in float32 (until ``r_p ≤ switch_tol`` or ``float32_iter`` = 20 iterations; 10 where the
polished dual is tried, as the median prox is often exact by then and only a float64 check can
certify it), the rest in float64.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from mmaffect.ops.anderson import AndersonHistory
from mmaffect.ops.svt_routes import pick_route, svt_with_norm

__all__ = ["ACCURATE_DEFAULTS", "solve_accurate"]

ACCURATE_DEFAULTS: dict[str, float | int | str] = {
    "lam": 1.0, "max_iter": 2000, "tol": 1e-6, "gap_tol": 1e-8, "alpha": 1.8, "step": 1.0,
    "balance": 5.0, "switch_tol": 1e-4, "float32_iter": 20, "float32_iter_polished": 10, "check_every": 5,
    "stall_iter": 40, "stall_step": 1.0, "stall_rate": 0.1,
    "gap_alone": 1, "late_iter": 200, "late_gap_factor": 100.0, "polish_from_m": 3,
    "anderson": 5, "anderson_max_entries": 4096, "svt": "auto",
}

# CPU working-set target per chunk (bytes), as in the paper preset
_CHUNK_BYTES = 16 << 20


def prox_sum_abs(x: Tensor, v: Tensor, t_lam: Tensor) -> Tensor:
    """``argmin_l λ Σ_m |X_m − l| + (1/2t)(l − v)²`` elementwise: the median of ``X_1..X_M`` and
    ``v + tλ(M − 2k)``, ``k = 0..M``, for ``x`` ``[b, M, n, c]``, ``v`` ``[b, n, c]``, ``t_lam`` ``[b]``."""
    m = x.shape[1]
    steps = torch.arange(m, -m - 1, -2, dtype=v.dtype, device=v.device)  # M − 2k
    cand = v.unsqueeze(1) + t_lam.view(-1, 1, 1, 1) * steps.view(1, -1, 1, 1)
    return torch.cat([x, cand], dim=1).median(dim=1).values


def prox_sum_abs_pair(lo: Tensor, hi: Tensor, v: Tensor, t_lam: Tensor) -> Tensor:
    """:func:`prox_sum_abs` for ``M = 2`` from ``lo = min(X_1, X_2)``, ``hi = max(X_1, X_2)``:
    ``l = clamp(v, lo, hi) + shrink(v − clamp(v, lo, hi), 2tλ)`` (flat between the two, slope ±2λ out)."""
    inside = torch.clamp(v, lo, hi)
    d = v - inside
    s2 = (2.0 * t_lam).view(-1, 1, 1)
    return inside.add_(d).sub_(torch.clamp(d, -s2, s2))


def prox_sum_abs_sorted(xs: Tensor, v: Tensor, t_lam: Tensor) -> Tensor:
    """:func:`prox_sum_abs` from ``xs`` = ``X`` sorted along the modality dim (``x_1 ≤ .. ≤ x_M``), without
    a median: ``l`` is ``v + tλ(M − 2k)`` between ``x_k`` and ``x_{k+1}`` and flat at each ``x_k``, so

        l = min(v + tλM, x_1) + Σ_{k=1}^{M−1} [clamp(v + tλ(M − 2k), x_k, x_{k+1}) − x_k] + max(v − tλM, x_M) − x_M

    (each term is the part of the monotone map ``v ↦ l`` that lies in one interval)."""
    m = xs.shape[1]
    s = t_lam.view(-1, 1, 1)
    out = torch.minimum(v + m * s, xs[:, 0])
    for k in range(1, m):
        out += torch.clamp(v + (m - 2 * k) * s, xs[:, k - 1], xs[:, k]).sub_(xs[:, k - 1])
    out += torch.maximum(v - m * s, xs[:, m - 1]).sub_(xs[:, m - 1])
    return out


def dual_objective(x: Tensor, u: Tensor, lam: float, spread: Tensor | None = None) -> Tensor:
    """``D(u) = Σ_ij min_k [u X_k + λ Σ_m |X_m − X_k|]`` per sample (valid for ``|u| ≤ λM``); ``spread``
    ``[b, M, n, c]`` = ``λ Σ_m |X_m − X_k|`` per ``k`` when already computed (:func:`dual_spread`)."""
    if spread is None:
        spread = dual_spread(x, lam)
    best = torch.addcmul(spread[:, 0], u, x[:, 0])
    for k in range(1, x.shape[1]):
        best = torch.minimum(best, torch.addcmul(spread[:, k], u, x[:, k]))
    return best.sum(dim=(-2, -1))


def dual_spread(x: Tensor, lam: float) -> Tensor:
    """``λ Σ_m |X_m − X_k|`` for each ``k`` (``[b, M, n, c]``), the constant part of :func:`dual_objective`."""
    return torch.stack([lam * (x - x[:, k : k + 1]).abs().sum(dim=1) for k in range(x.shape[1])], dim=1)


def polished_dual(low: Tensor, u: Tensor, rtol: float = 1e-8) -> Tensor:
    """A second dual point built from the primal candidate ``low`` ``[b, n, c]`` and the ADMM dual ``u``:

        u' = (U_r V_rᵀ + (I − U_r U_rᵀ) u (I − V_r V_rᵀ)) / max(1, ||·||_2)

    with ``U_r Σ_r V_rᵀ`` the singular triplets of ``low`` above ``rtol·σ_max``. For an optimal ``low``,
    every subgradient of ``||·||_*`` there has this form (Watson 1992, Linear Algebra Appl. 170), so
    ``u'`` is the dual point the primal iterate points at: where the primal converges in a few
    iterations and the ADMM dual lags (M = 3 with planted sparse spikes, where the median prox is exact
    early), ``D(u')`` certifies at once. Any ``||u'||_2 ≤ 1`` gives a valid lower bound ``D(u') ≤ P*``;
    the division enforces it against rounding (``||u||_2 ≤ 1`` and the two parts act on orthogonal
    row and column spaces, so the norm is 1 up to rounding)."""
    wide = low.shape[-2] <= low.shape[-1]
    a, w = (low, u) if wide else (low.mT, u.mT)
    ev, vec = torch.linalg.eigh(a @ a.mT)
    sv = ev.clamp_min(0.0).sqrt()
    kept = sv > rtol * sv[..., -1:]
    inv = torch.where(kept, 1.0 / sv.clamp_min(torch.finfo(sv.dtype).tiny), 0.0)
    left = vec * kept.unsqueeze(-2)  # U_r (dropped columns zeroed)
    right_t = (vec * inv.unsqueeze(-2)).mT @ a  # V_rᵀ = Σ_r⁻¹ U_rᵀ A (zero rows where dropped)
    rest = w - left @ (left.mT @ w)
    rest = rest - (rest @ right_t.mT) @ right_t
    out = left @ right_t + rest
    norm = torch.linalg.eigvalsh(out @ out.mT)[..., -1].clamp_min(0.0).sqrt()
    out = out / norm.clamp_min(1.0).view(-1, 1, 1)
    return out if wide else out.mT


def _candidate_objective(x: Tensor, cand: Tensor, lam: float) -> Tensor:
    """``P(V) = ||V||_* + λ Σ_m ||X_m − V||_1`` per sample (nuclear norm from the Gram eigenvalues)."""
    left = cand.shape[-2] <= cand.shape[-1]
    ev = torch.linalg.eigvalsh(cand @ cand.mT if left else cand.mT @ cand)
    return ev.clamp_min(0.0).sqrt().sum(-1) + lam * (x - cand.unsqueeze(1)).abs().sum(dim=(-3, -2, -1))


def _run(x64: Tensor, opts: dict[str, float | int | str], out: dict[str, Tensor]) -> None:
    """Solve the samples of ``x64`` ``[b, M, n, c]`` (float64) writing into ``out`` (same rows).

    The state is the prox input ``ζ = L̂ + w``: ``V = prox_{tf}(ζ)``, ``w = ζ − V``, ``L' = SVT(2V − ζ, t)``
    and ``ζ⁺ = T(ζ) = ζ + α(L' − V)``, a relaxed Douglas–Rachford map, averaged at a fixed ``t``, so its
    residual ``||T(ζ) − ζ||`` never grows under plain steps. Where ``t`` stays fixed (float64 phase),
    ``ζ⁺`` is the Anderson point of the last ``anderson`` images (:mod:`mmaffect.ops.anderson`),
    accepted only if its residual is below that of the point it came from, else replaced by that
    point's plain image (and the history cleared); a change of ``t`` clears the history too.
    """
    lam, tol, gap_tol = float(opts["lam"]), float(opts["tol"]), float(opts["gap_tol"])
    alpha, beta, max_iter = float(opts["alpha"]), float(opts["balance"]), int(opts["max_iter"])
    switch_tol, check_every = float(opts["switch_tol"]), int(opts["check_every"])
    stall_iter, gap_alone, stall_rate = int(opts["stall_iter"]), bool(opts["gap_alone"]), float(opts["stall_rate"])
    # the polished dual costs an eigh per check; it pays at M ≥ 3 (planted pairs certify in 11.8 instead of
    # 83 mean iterations) but not at M = 2 (random, planted and token pairs: at most one check saved)
    polish = x64.shape[1] >= int(opts["polish_from_m"])
    late_iter, late_gap_tol = int(opts["late_iter"]), gap_tol * float(opts["late_gap_factor"])
    # at M ≥ 3 the median prox is often exact within 10 iterations, and only a float64 check certifies it
    # (random M = 3: 11 instead of 21 iterations); at M = 2 a shorter float32 phase costs iterations
    # (random, 49×64: 45 → 58)
    float32_iter = min(int(opts["float32_iter_polished" if polish else "float32_iter"]), max_iter // 2)
    svt = str(opts["svt"])  # auto: gram_eigh on CPU, the fastest route per shape elsewhere
    # Anderson pays where its history stays small: at n·c = 49·64 it saves 30 % of the iterations for
    # about 20 % more per iteration; at 49·256 the history's memory traffic costs more than it saves
    memory = int(opts["anderson"]) if x64.shape[-2] * x64.shape[-1] <= int(opts["anderson_max_entries"]) else 0
    certify = lam * x64.shape[1] >= 1.0
    b, m, n, c = x64.shape
    f64 = torch.float64
    tiny = torch.finfo(f64).tiny
    x_norm = torch.linalg.vector_norm(x64, dim=(-2, -1)).amin(dim=1).clamp_min(tiny)
    rms = torch.linalg.vector_norm(x64, dim=(1, 2, 3)) / math.sqrt(m * n * c)
    t = (float(opts["step"]) * rms).clamp_min(tiny)
    # stalled-sample step: a multiple of the mean width of the flat intervals [min_m X_m, max_m X_m]
    width = (x64.amax(dim=1) - x64.amin(dim=1)).mean(dim=(-2, -1))
    stall_t = (float(opts["stall_step"]) * torch.maximum(width, 1e-3 * rms)).clamp_min(tiny)
    spread = dual_spread(x64, lam) if certify else x64
    # float32 phase (when asked), then float64
    dtype = torch.float32 if switch_tol > 0 else f64
    x = x64.to(dtype)
    lo, hi = x.amin(dim=1), x.amax(dim=1)
    xs = torch.sort(x, dim=1).values if m > 2 else x
    zeta = x.mean(dim=1)
    v = zeta  # the start: V = mean_m X_m, w = 0
    idx = torch.arange(b, device=x64.device)
    its = torch.zeros(b, dtype=torch.int64, device=x64.device)
    stalled = torch.zeros(b, dtype=torch.bool, device=x64.device)
    gap_hist = torch.full((b, 2), math.inf, dtype=f64, device=x64.device)  # the gaps of the last two checks
    history = AndersonHistory(b, n * c, memory, dtype=f64, device=x64.device) if memory > 0 else None
    tried = torch.zeros(b, dtype=torch.bool, device=x64.device)  # ζ is an Anderson point
    fallback = torch.zeros(0)  # the plain image of the previous point (where ``tried``)
    last_res = torch.full((b,), math.inf, dtype=f64, device=x64.device)  # its residual norm
    active = torch.ones(b, dtype=torch.bool, device=x64.device)  # rows still to stop
    first_f64 = dtype == f64

    def prox(z: Tensor) -> Tensor:
        tl = (t * lam).to(z.dtype)
        return prox_sum_abs_pair(lo, hi, z, tl) if m == 2 else prox_sum_abs_sorted(xs, z, tl)

    for _ in range(max_iter):
        z = torch.add(-zeta, v, alpha=2.0)  # V − w
        tz = t.to(dtype)
        low, nuc = svt_with_norm(z, tz, pick_route(z, tz) if svt == "auto" else svt)
        diff = low - v
        image = torch.add(zeta, diff, alpha=alpha)  # the plain step T(ζ)
        v_new = prox(image)  # V' (the ADMM's next V): w' = T(ζ) − V', −w'/t ∈ ∂f(V')
        its += 1
        z.sub_(low)  # t·u, u = (V − w − L')/t ∈ ∂||L'||_*
        r_p = torch.linalg.vector_norm(low - v_new, dim=(-2, -1)).to(f64) / x_norm
        # r_d = ||u + w'/t|| / ||u|| = ||t u + T(ζ) − V'|| / ||t u||
        r_d = (torch.linalg.vector_norm(z + image - v_new, dim=(-2, -1))
               / torch.linalg.vector_norm(z, dim=(-2, -1)).clamp_min(tiny)).to(f64)
        gap = torch.full_like(r_p, math.inf)
        best = low
        last = its >= max_iter
        check = low.dtype == f64 and (int(its[0]) % check_every == 0 or first_f64 or bool(last.any()))
        first_f64 = False
        if certify and check:  # certificate: float64 only; primal at the better of L' and V'
            p_low = nuc + lam * (x - low.unsqueeze(1)).abs().sum(dim=(-3, -2, -1))
            p_v = _candidate_objective(x, v_new, lam)
            use_v = p_v < p_low
            primal = torch.where(use_v, p_v, p_low)
            best = torch.where(use_v.view(-1, 1, 1), v_new, low)
            u = z / t.view(-1, 1, 1)
            dual = dual_objective(x, u, lam, spread)
            if polish:
                dual = torch.maximum(dual, dual_objective(x, polished_dual(best, u), lam, spread))
            gap = ((primal - dual) / primal.clamp_min(tiny)).clamp_min(0.0)  # ≥ 0 up to rounding
        if certify:
            done = gap <= gap_tol
            if not gap_alone:
                done &= (r_p <= tol) & (r_d <= tol)
            done |= (its >= late_iter) & (gap <= late_gap_tol)
        else:
            done = (r_p <= tol) & (r_d <= tol) & (low.dtype == f64)
        stop = (done | last) & active
        if bool(stop.any()):
            sel = stop.nonzero().squeeze(-1)
            dst = idx[sel]
            low_sel = best[sel].to(f64)
            sparse_sel = x64[sel] - low_sel.unsqueeze(1)
            out["low_rank"][dst] = low_sel
            out["sparse"][dst] = sparse_sel
            out["iterations"][dst] = its[sel]
            out["residual"][dst] = (torch.linalg.vector_norm(x64[sel] - low_sel.unsqueeze(1) - sparse_sel, dim=(-2, -1))
                                    / torch.linalg.vector_norm(x64[sel], dim=(-2, -1)).clamp_min(tiny)).amax(dim=1)
            out["dual_residual"][dst] = r_d[sel]
            out["gap"][dst] = gap[sel]
            out["converged"][dst] = done[sel]
            active = active & ~stop
            if not bool(active.any()):
                return
            # compact once a quarter of the rows has stopped (each compaction copies every buffer, the
            # Anderson history included; stopped rows cost an iteration's compute until then)
            if int(active.sum()) <= 0.75 * active.shape[0]:
                keep = active
                x64, x, xs, spread, zeta, t, idx, its, lo, hi = (
                    a[keep] for a in (x64, x, xs, spread, zeta, t, idx, its, lo, hi))
                x_norm, r_p, r_d, stall_t, stalled = x_norm[keep], r_p[keep], r_d[keep], stall_t[keep], stalled[keep]
                gap, gap_hist = gap[keep], gap_hist[keep]
                diff, image, v_new, tried, last_res = diff[keep], image[keep], v_new[keep], tried[keep], last_res[keep]
                active = active[keep]
                if fallback.numel():
                    fallback = fallback[keep]
                if history is not None:
                    history.select(keep)
        if dtype != f64 and (bool((r_p <= switch_tol).all()) or int(its[0]) >= float32_iter):
            dtype, first_f64 = f64, True  # the first float64 iteration is checked too
            x, zeta, diff, image = x64, zeta.to(f64), diff.to(f64), image.to(f64)
            lo, hi = x.amin(dim=1), x.amax(dim=1)
            xs = torch.sort(x, dim=1).values if m > 2 else x
            v_new = prox(image)
        # samples without a certificate after stall_iter iterations whose gap fell less than 1/stall_rate
        # (10×) over the last two checks (degenerate optima, e.g. M = 2 with a flat ℓ1 term where
        # X_1 ≠ X_2): fixed small step, balancing off; a sample still converging fast keeps the balancing
        new_stall = torch.zeros_like(stalled)
        if check:
            new_stall = (~stalled) & (its >= stall_iter) & ~(gap <= stall_rate * gap_hist[:, 0])
            gap_hist = torch.stack([gap_hist[:, 1], gap], dim=1)
        factor = torch.ones_like(t)
        if beta > 0:  # residual balancing: t ← t/2 if r_p > β r_d, t ← 2t if r_d > β r_p
            factor = torch.where(r_p > beta * r_d, 0.5, torch.where(r_d > beta * r_p, 2.0, 1.0)).to(f64)
            factor = torch.where(stalled, 1.0, factor)
        if bool(new_stall.any()):
            factor = torch.where(new_stall, stall_t / t, factor)
            stalled = stalled | new_stall
        changed = factor != 1.0
        nxt, v = image, v_new
        if history is not None and dtype == f64:
            # safeguard: an Anderson point whose residual is not below its origin's goes back to the
            # origin's plain image
            res_norm = alpha * torch.linalg.vector_norm(diff, dim=(-2, -1))
            rejected = tried & (res_norm > last_res)
            flat = nxt.reshape(nxt.shape[0], -1)
            history.push(flat, diff.reshape(flat.shape).mul(alpha))
            accel, ready = history.step()
            use = ready & ~changed & ~rejected
            if bool(use.any()):
                nxt = torch.where(use.view(-1, 1, 1), accel.view_as(nxt), nxt)
            if bool(rejected.any()):
                nxt = torch.where(rejected.view(-1, 1, 1), fallback, nxt)
            history.reset(changed | rejected)
            # a rejected point keeps its origin's reference residual and plain image
            last_res = torch.where(rejected, last_res, res_norm)
            fallback = torch.where(rejected.view(-1, 1, 1), fallback, image) if fallback.numel() else image
            tried = use
            if bool((use | rejected).any()):
                v = prox(nxt)
        if bool(changed.any()):  # t ← factor·t rescales the scaled dual: w ← factor·w at the same V
            nxt = torch.where(changed.view(-1, 1, 1), v + factor.to(dtype).view(-1, 1, 1) * (nxt - v), nxt)
        zeta = nxt
        t = t * factor
    raise AssertionError("unreachable: max_iter stops every sample")  # pragma: no cover


def solve_accurate(x: Tensor, opts: dict[str, float | int | str]) -> dict[str, Tensor]:
    """Run the certified solver on ``x`` ``[B, M, n, c]``; returns float64 tensors ``low_rank``,
    ``sparse``, ``iterations``, ``residual`` (r_p), ``dual_residual`` (r_d), ``gap`` (η), ``converged``.

    On CPU the batch is split into one part per intra-op thread, each solved by a single-threaded
    worker over cache-sized chunks; on other devices the whole batch runs at once (same code).
    """
    b, m, n, c = x.shape
    dev = x.device
    f64 = torch.float64
    out = {
        "low_rank": torch.empty(b, n, c, dtype=f64, device=dev),
        "sparse": torch.empty(b, m, n, c, dtype=f64, device=dev),
        "iterations": torch.empty(b, dtype=torch.int64, device=dev),
        "residual": torch.empty(b, dtype=f64, device=dev),
        "dual_residual": torch.empty(b, dtype=f64, device=dev),
        "gap": torch.empty(b, dtype=f64, device=dev),
        "converged": torch.empty(b, dtype=torch.bool, device=dev),
    }
    x64 = x.to(f64)
    if dev.type != "cpu":
        _run(x64, opts, out)
        return out
    chunk = max(1, _CHUNK_BYTES // (6 * m * n * c * 8))
    threads = torch.get_num_threads()
    parts = max(1, min(threads, b))
    bounds = [round(i * b / parts) for i in range(parts + 1)]

    def run_part(k: int) -> None:
        for lo in range(bounds[k], bounds[k + 1], chunk):
            hi = min(lo + chunk, bounds[k + 1])
            view = {key: val[lo:hi] for key, val in out.items()}
            _run(x64[lo:hi], opts, view)

    try:
        with ThreadPoolExecutor(parts, initializer=torch.set_num_threads, initargs=(1,)) as pool:
            list(pool.map(run_part, range(parts)))
    finally:
        torch.set_num_threads(threads)
    return out
