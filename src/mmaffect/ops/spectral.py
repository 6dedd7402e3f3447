"""Singular-value alignment of modality embeddings (PMRL, Liu et al., arXiv 2507.17343).

Per sample ``b`` the ``M`` modality embeddings are L2-normalised and stacked as the columns of
``Z_b ∈ R^{d×M}``. Its singular values ``σ_1 ≥ … ≥ σ_M`` satisfy ``Σ_k σ_k² = ||Z_b||_F² = M``, and
``σ_1 = √M`` exactly when all modalities are collinear (the Gram matrix ``Z_bᵀ Z_b`` has rank one).

Everything is computed from the small ``M×M`` Gram matrix ``G = Zᵀ Z`` (``σ_k² = λ_k(G)``) instead of an
SVD of ``Z``: the SVD backward divides by ``σ_i² − σ_j²`` and is infinite when two singular values
coincide, which is the usual state at initialisation (orthogonal modalities give ``G = I``). Gradients
are kept finite as follows:

- singular values: ``torch.linalg.eigvalsh`` whose backward is ``V diag(∂L/∂λ) Vᵀ`` (no eigen-gaps), then
  ``σ = sqrt(max(λ, eps))``, so the square root's slope is bounded by ``1 / (2 √eps)``;
- leading direction: the top eigenvector ``v_1`` of ``G`` comes from :func:`safe_eigh`, whose backward
  replaces ``1 / (λ_j − λ_i)`` by the broadened ``(λ_j − λ_i) / ((λ_j − λ_i)² + gap_eps)``. It is exact
  when ``(λ_j − λ_i)² ≫ gap_eps``, bounded by ``1 / (2 √gap_eps)`` everywhere, and 0 at an exact
  degeneracy (where the leading direction is not unique and only its component along ``Z`` moves).

The Gram matrix and its eigen-decomposition are computed in float64 (``M×M``, negligible cost), except
on devices without float64 (MPS), and the results are cast back to the input dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "leading_direction",
    "leading_direction_contrast",
    "safe_eigh",
    "singular_values",
    "spectral_alignment_loss",
    "spectral_decomposition",
]

#: Floor on ``λ = σ²`` before the square root (bounds ``dσ/dλ`` by ``1 / (2 √eps)``).
SIGMA_EPS = 1e-8
#: Lorentzian broadening of ``1 / (λ_j − λ_i)`` in the eigenvector backward (``|F_ij| ≤ 50``).
GAP_EPS = 1e-4


def _work_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float32 if x.device.type == "mps" else torch.float64


def _check(Z: torch.Tensor) -> None:
    if Z.ndim != 3:
        raise ValueError(f"Z must be [B, M, d] (batch, modalities, embedding dim), got shape {tuple(Z.shape)}")
    if Z.shape[1] < 1 or Z.shape[2] < 1:
        raise ValueError(f"Z must have at least one modality and one dimension, got shape {tuple(Z.shape)}")


def _gram(Z: torch.Tensor) -> torch.Tensor:
    """``G = Ẑ Ẑᵀ`` ``[B, M, M]`` of the row-normalised ``Z`` ``[B, M, d]``, in the working dtype."""
    Zn = F.normalize(Z.to(_work_dtype(Z)), dim=-1)
    return Zn @ Zn.transpose(-1, -2)


class _SafeEigh(torch.autograd.Function):
    """Symmetric eigen-decomposition with a broadened (bounded) eigenvector backward."""

    @staticmethod
    def forward(ctx, A: torch.Tensor, gap_eps: float):  # type: ignore[override]
        lam, V = torch.linalg.eigh(A)
        ctx.save_for_backward(lam, V)
        ctx.gap_eps = gap_eps
        return lam, V

    @staticmethod
    def backward(ctx, g_lam: torch.Tensor | None, g_V: torch.Tensor | None):  # type: ignore[override]
        lam, V = ctx.saved_tensors
        inner = torch.zeros_like(V)
        if g_lam is not None:
            inner = inner + torch.diag_embed(g_lam)
        if g_V is not None:
            gap = lam.unsqueeze(-2) - lam.unsqueeze(-1)  # gap[i, j] = λ_j − λ_i
            off = ~torch.eye(lam.shape[-1], dtype=torch.bool, device=lam.device)
            denom = torch.where(off, gap * gap + ctx.gap_eps, torch.ones_like(gap))
            Fm = torch.where(off, gap / denom, torch.zeros_like(gap))
            inner = inner + Fm * (V.transpose(-1, -2) @ g_V)
        g_A = V @ inner @ V.transpose(-1, -2)
        return 0.5 * (g_A + g_A.transpose(-1, -2)), None


def safe_eigh(A: torch.Tensor, gap_eps: float = GAP_EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """``(λ, V)`` of symmetric ``A`` ``[..., n, n]`` (ascending λ, as ``torch.linalg.eigh``).

    Backward: ``∂L/∂A = sym(V (diag(∂L/∂λ) + F ∘ (Vᵀ ∂L/∂V)) Vᵀ)`` with
    ``F_ij = Δ / (Δ² + gap_eps)``, ``Δ = λ_j − λ_i``, ``F_ii = 0`` (``gap_eps = 0`` is the exact rule).
    """
    return _SafeEigh.apply(A, float(gap_eps))


def singular_values(Z: torch.Tensor, eps: float = SIGMA_EPS) -> torch.Tensor:
    """Descending singular values ``[B, M]`` of each sample's ``d×M`` matrix of L2-normalised modalities.

    ``σ_k = sqrt(max(λ_k(Ẑ Ẑᵀ), eps))``; ``Z`` is ``[B, M, d]`` raw embeddings.
    """
    _check(Z)
    lam = torch.linalg.eigvalsh(_gram(Z)).flip(-1)
    return lam.clamp_min(eps).sqrt().to(Z.dtype)


def spectral_decomposition(
    Z: torch.Tensor, eps: float = SIGMA_EPS, gap_eps: float = GAP_EPS
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(σ [B, M], u_1 [B, d])`` from one eigen-decomposition of the Gram matrix.

    ``u_1 = Ẑᵀ v_1 / σ_1`` is the leading left singular vector, signed so that ``Σ_m <u_1, ẑ_m> ≥ 0``.
    Since ``Σ_m <u_1, ẑ_m> = 1ᵀ G v_1 / σ_1 = σ_1 Σ_m v_1[m]``, the sign is that of ``Σ_m v_1[m]``
    (``+`` when it is 0).
    """
    _check(Z)
    Zn = F.normalize(Z.to(_work_dtype(Z)), dim=-1)
    lam, V = safe_eigh(Zn @ Zn.transpose(-1, -2), gap_eps)
    lam, V = lam.flip(-1), V.flip(-1)
    sigma = lam.clamp_min(eps).sqrt()
    v1 = V[..., 0]
    sign = torch.where(v1.sum(-1, keepdim=True) >= 0, 1.0, -1.0).to(v1.dtype).detach()
    u = torch.einsum("bmd,bm->bd", Zn, v1 * sign) / sigma[:, :1]
    return sigma.to(Z.dtype), u.to(Z.dtype)


def leading_direction(Z: torch.Tensor, eps: float = SIGMA_EPS, gap_eps: float = GAP_EPS) -> torch.Tensor:
    """Leading left singular vector ``u_1 = Ẑᵀ v_1 / σ_1`` ``[B, d]`` with ``Σ_m <u_1, ẑ_m> ≥ 0``.

    See :func:`spectral_decomposition`; at ``σ_1 = σ_2`` the direction is not unique (any unit vector of
    the top singular subspace) and the returned one is the eigen-solver's choice.
    """
    return spectral_decomposition(Z, eps, gap_eps)[1]


def spectral_alignment_loss(Z: torch.Tensor, tau: float = 0.05, eps: float = SIGMA_EPS) -> torch.Tensor:
    """PMRL intra-instance loss ``mean_b −log softmax(σ_b / τ)_0`` (cross-entropy with target index 0).

    Minimised by collinear modalities, ``σ = (√M, 0, …, 0)``; its value there is
    ``−log softmax([√M, 0, …, 0] / τ)_0``.
    """
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    logits = singular_values(Z, eps) / tau
    return (torch.logsumexp(logits, dim=-1) - logits[:, 0]).mean()


def leading_direction_contrast(
    u: torch.Tensor,
    tau: float = 0.1,
    keys: torch.Tensor | None = None,
    *,
    symmetric: bool = False,
) -> torch.Tensor:
    """PMRL inter-instance InfoNCE on leading directions.

    Default (``keys=None``, the released PMRL code): logits ``S_ij = <û_i, û_j> / τ`` over the batch,
    ``L = mean_i −log softmax(S_i·)_i``. The positive logit is the constant ``1/τ``, so the loss
    pushes the leading directions of different instances apart (instance separability, no collapse).
    ``S`` is symmetric, so ``symmetric`` changes nothing in this mode.

    With ``keys`` ``[B, d]`` or ``[B, M, d]``: ``S^m_ij = <û_i, k̂_{m,j}> / τ`` (positives: the same
    instance's keys, e.g. its own modality embeddings; negatives: other instances'), the loss averaged
    over ``m``; ``symmetric=True`` averages it with the key-to-direction direction (``S^mᵀ``).
    All vectors are L2-normalised first. A batch of one gives 0.
    """
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    if u.ndim != 2:
        raise ValueError(f"u must be [B, d], got shape {tuple(u.shape)}")
    un = F.normalize(u, dim=-1)
    target = torch.arange(u.shape[0], device=u.device)
    if keys is None:
        return F.cross_entropy(un @ un.T / tau, target)
    k = keys.unsqueeze(1) if keys.ndim == 2 else keys
    if k.ndim != 3 or k.shape[0] != u.shape[0] or k.shape[-1] != u.shape[-1]:
        raise ValueError(f"keys must be [B, d] or [B, M, d] matching u {tuple(u.shape)}, got {tuple(keys.shape)}")
    kn = F.normalize(k, dim=-1)
    losses = []
    for m in range(kn.shape[1]):
        logits = un @ kn[:, m].T / tau
        loss = F.cross_entropy(logits, target)
        if symmetric:
            loss = 0.5 * (loss + F.cross_entropy(logits.T, target))
        losses.append(loss)
    return torch.stack(losses).mean()
