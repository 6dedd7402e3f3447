"""Entropic (multi-marginal) optimal transport in the log domain.

For ``M ≥ 2`` discrete marginals ``a_m ∈ Δ^{K_m}`` and a cost tensor ``C ∈ R^{K_1×…×K_M}`` the entropic
multi-marginal problem is

    min_{P ≥ 0, P 1_{-m} = a_m ∀m}  <P, C> + ε Σ P (log P − 1),

where ``P 1_{-m}`` sums ``P`` over every axis except ``m``. Its solution is
``P = exp((f_1 ⊕ … ⊕ f_M − C) / ε)`` for dual potentials ``f_m ∈ R^{K_m}`` (``⊕`` = broadcast sum), found by
block-coordinate ascent on the dual (Sinkhorn, Benamou et al. 2015), one modality at a time:

    f_m ← ε log a_m − ε logsumexp_{axes ≠ m} ((Σ_{j≠m} f_j − C) / ε).

After the update of ``f_m`` the ``m``-th marginal of ``P`` equals ``a_m`` exactly. Working with the
potentials (log domain) instead of the scalings ``u_m = exp(f_m / ε)`` of the kernel ``exp(−C/ε)`` avoids
the underflow of that kernel for small ``ε`` or large costs. For ``M = 2`` this is the usual Sinkhorn
algorithm (Cuturi 2013).

DecAlign (Qian et al., ICLR 2026) uses it with ``M`` = number of modalities over ``K`` GMM prototypes
per modality; the released code iterates the scalings ``u, v, w`` in the kernel domain (with a
``1e-30`` floor on the kernel and ``1e-8`` added to each denominator). In exact arithmetic both give the
same plan; the log domain differs only where that kernel would underflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

__all__ = ["entropic_ot_loss", "gaussian_prototype_cost", "multi_marginal_sinkhorn", "sum_of_pairwise_costs"]

#: Floor applied before taking logarithms of marginals and plans (keeps gradients finite at 0).
LOG_FLOOR = 1e-30


def _axis_view(v: torch.Tensor, axis: int, ndim: int) -> torch.Tensor:
    shape = [1] * ndim
    shape[axis] = v.shape[0]
    return v.reshape(shape)


def multi_marginal_sinkhorn(
    cost: torch.Tensor,
    marginals: Sequence[torch.Tensor],
    eps: float = 0.1,
    n_iter: int = 50,
    *,
    return_log: bool = False,
) -> torch.Tensor:
    """The entropic multi-marginal transport plan ``P`` (same shape as ``cost``), differentiable.

    ``cost`` is ``[K_1, …, K_M]`` (``M ≥ 2``); ``marginals[m]`` is a 1-D tensor of length ``K_m`` summing
    to 1. Each of the ``n_iter`` sweeps updates ``f_1, …, f_M`` in turn with
    ``f_m ← ε log a_m − ε logsumexp_{axes≠m}((Σ_{j≠m} f_j − C)/ε)``; the plan is
    ``P = exp((⊕_m f_m − C)/ε)``. After a sweep the last marginal is exact and the others converge
    linearly. ``return_log=True`` returns ``log P`` instead.
    """
    ndim = cost.dim()
    if ndim < 2:
        raise ValueError(f"multi_marginal_sinkhorn: cost must have at least 2 axes, got shape {tuple(cost.shape)}")
    if len(marginals) != ndim:
        raise ValueError(f"multi_marginal_sinkhorn: cost has {ndim} axes but {len(marginals)} marginals were given")
    for m, a in enumerate(marginals):
        if a.dim() != 1 or a.shape[0] != cost.shape[m]:
            raise ValueError(f"multi_marginal_sinkhorn: marginal {m} has shape {tuple(a.shape)}, "
                             f"expected ({cost.shape[m]},) to match cost shape {tuple(cost.shape)}")
    if eps <= 0:
        raise ValueError(f"multi_marginal_sinkhorn: eps must be > 0, got {eps}")
    if n_iter < 1:
        raise ValueError(f"multi_marginal_sinkhorn: n_iter must be >= 1, got {n_iter}")

    log_a = [torch.log(a.to(cost.dtype).clamp_min(LOG_FLOOR)) for a in marginals]
    f = [cost.new_zeros(cost.shape[m]) for m in range(ndim)]
    for _ in range(n_iter):
        for m in range(ndim):
            others = [j for j in range(ndim) if j != m]
            s = -cost
            for j in others:
                s = s + _axis_view(f[j], j, ndim)
            f[m] = eps * log_a[m] - eps * torch.logsumexp(s / eps, dim=others)
    log_plan = -cost
    for j in range(ndim):
        log_plan = log_plan + _axis_view(f[j], j, ndim)
    log_plan = log_plan / eps
    return log_plan if return_log else log_plan.exp()


def entropic_ot_loss(plan: torch.Tensor, cost: torch.Tensor, eps: float) -> torch.Tensor:
    """``L_OT = <P, C> + ε Σ P (log P − 1)`` (the entropic objective at ``P``); ``0 log 0 = 0``."""
    if plan.shape != cost.shape:
        raise ValueError(f"entropic_ot_loss: plan shape {tuple(plan.shape)} != cost shape {tuple(cost.shape)}")
    entropy_term = plan * (torch.log(plan.clamp_min(LOG_FLOOR)) - 1.0)
    return (plan * cost).sum() + eps * entropy_term.sum()


def sum_of_pairwise_costs(pairwise: Mapping[tuple[int, int], torch.Tensor], num_marginals: int) -> torch.Tensor:
    """Joint cost ``C[i_1, …, i_M] = Σ_{a<b} c_ab[i_a, i_b]`` from the pairwise matrices ``c_ab`` ``[K_a, K_b]``.

    For three modalities (l, a, v) this is ``C[i,j,k] = c_la[i,j] + c_lv[i,k] + c_av[j,k]``.
    """
    if num_marginals < 2:
        raise ValueError(f"sum_of_pairwise_costs: need at least 2 marginals, got {num_marginals}")
    if not pairwise:
        raise ValueError("sum_of_pairwise_costs: no pairwise cost given")
    sizes: list[int | None] = [None] * num_marginals
    total: torch.Tensor | None = None
    for (a, b), c in pairwise.items():
        if not 0 <= a < b < num_marginals:
            raise ValueError(f"sum_of_pairwise_costs: pair {(a, b)} must satisfy 0 <= a < b < {num_marginals}")
        if c.dim() != 2:
            raise ValueError(f"sum_of_pairwise_costs: cost of pair {(a, b)} must be 2-D, got {tuple(c.shape)}")
        for axis, k in ((a, c.shape[0]), (b, c.shape[1])):
            if sizes[axis] not in (None, k):
                raise ValueError(f"sum_of_pairwise_costs: axis {axis} has size {sizes[axis]} in one pair and {k} "
                                 f"in pair {(a, b)}")
            sizes[axis] = k
        shape = [1] * num_marginals
        shape[a], shape[b] = c.shape
        term = c.reshape(shape)
        total = term if total is None else total + term
    assert total is not None
    return total.expand([k if k is not None else 1 for k in sizes])


def gaussian_prototype_cost(mu_a: torch.Tensor, var_a: torch.Tensor, mu_b: torch.Tensor, var_b: torch.Tensor,
                            reduction: str = "mean") -> torch.Tensor:
    """Transport cost ``[K_a, K_b]`` between diagonal Gaussian prototypes (DecAlign, Qian et al., ICLR 2026):

        C_ij = red_d (μ_a,i − μ_b,j)² + red_d (σ²_a,i + σ²_b,j − 2 sqrt(σ²_a,i σ²_b,j + 1e-8)),

    the squared 2-Wasserstein distance of two diagonal Gaussians (``red_d`` the mean over dimensions, as the
    release, or the sum: ``reduction="sum"`` gives W₂² exactly, up to the 1e-8 inside the root).
    ``mu_*``/``var_*`` are ``[K, D]``.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    reduce = torch.mean if reduction == "mean" else torch.sum
    va, vb = var_a.unsqueeze(1), var_b.unsqueeze(0)
    mean_cost = reduce((mu_a.unsqueeze(1) - mu_b.unsqueeze(0)).pow(2), dim=-1)
    cov_cost = reduce(va + vb - 2.0 * torch.sqrt(va * vb + 1e-8), dim=-1)
    return mean_cost + cov_cost
