"""Straightforward per-sample NumPy implementation of the ``rd`` decomposition (reference only).

One sample at a time, one full ``np.linalg.svd`` per iteration, no batching and no shortcuts: the
baseline that :func:`mmaffect.ops.decomposition.decompose` is checked and benchmarked against.

Problem (Representation Decomposition, arXiv 2506.07086), for ``X_m ∈ R^{n×c}``, ``m = 1..M``:
``min ||L||_* + λ Σ_m ||S_m||_1  s.t.  X_m = L + S_m``, solved by the augmented Lagrangian method:

    S_m ← shrink(X_m − L + Y_m/μ, λ/μ)
    A   ← mean_m (X_m − S_m + Y_m/μ)
    L   ← SVT(A, 1/(Mμ))            (1/μ with ``svt_compat``)
    Y_m ← Y_m + μ (X_m − L − S_m)
    μ   ← min(ρ μ, μ_max)           (ρ = 1 keeps μ fixed)

stopping after the first iteration where ``max_m ||X_m − L − S_m||_F / ||X_m||_F < tol``.
"""

from __future__ import annotations

import numpy as np


def reference_decompose_one(
    x: np.ndarray,
    *,
    lam: float,
    mu: float,
    rho: float = 1.0,
    mu_max: float = 1e7,
    max_iter: int = 3000,
    tol: float = 1e-6,
    svt_compat: bool = False,
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Decompose one sample ``x`` ``[M, n, c]``; returns ``(L, S, iterations, residual)``."""
    x = np.asarray(x, dtype=np.float64)
    m_count = x.shape[0]
    low = np.zeros(x.shape[1:])
    sparse = np.zeros_like(x)
    dual = np.zeros_like(x)
    x_norm = np.array([np.linalg.norm(x[m]) for m in range(m_count)])
    residual = np.inf
    it = 0
    for it in range(1, max_iter + 1):
        for m in range(m_count):
            v = x[m] - low + dual[m] / mu
            sparse[m] = np.sign(v) * np.maximum(np.abs(v) - lam / mu, 0.0)
        a = np.mean([x[m] - sparse[m] + dual[m] / mu for m in range(m_count)], axis=0)
        tau = 1.0 / mu if svt_compat else 1.0 / (m_count * mu)
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        low = (u * np.maximum(s - tau, 0.0)) @ vt
        residual = 0.0
        for m in range(m_count):
            r = x[m] - low - sparse[m]
            dual[m] = dual[m] + mu * r
            residual = max(residual, np.linalg.norm(r) / x_norm[m])
        mu = min(mu * rho, mu_max)
        if residual < tol:
            break
    return low, sparse, it, residual
