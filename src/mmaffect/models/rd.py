"""``rd``: Representation Decomposition (arXiv 2506.07086).

Aligned token matrices of ``M ≥ 2`` modalities (image patches and text tokens in the paper) are split
per sample into one shared low-rank matrix and one sparse matrix per modality,

    min ||L||_* + λ Σ_m ||S_m||_1   s.t.   X_m = L + S_m,        X_m ∈ R^{n×c},

and the parts are fused by attention with **one shared scorer** (the paper; ``separate_scorers`` gives
the official code's one linear layer per part):

    a_P = wᵀ vec(P) + b,   P ∈ {L, S_1, …, S_M},    α = softmax(a),    R = Σ_P α_P P.

Inputs. Each modality ``x_m`` ``[B, T_m, D_m]`` becomes ``X_m`` ``[B, n, c]``: its columns by a linear
map ``D_m → c`` (``projection: linear``; the identity when ``D_m = c``) or by averaging groups of
dimensions (``projection: average``, the recipe of :mod:`mmaffect.ops.token_matrix`), its real rows
repeated cyclically or truncated to ``n`` (``row_fit: repeat``) or zero-padded (``pad``).

Decomposition (``decomposition``):

- ``precomputed``: the batch carries ``rd_low_rank`` ``[B, n, c]`` and ``rd_sparse_<m>`` per modality,
  written once by ``mmaffect decompose`` (the paper's offline step; the cheapest to train);
- ``on_the_fly``: :func:`mmaffect.ops.decomposition.decompose` runs under ``no_grad`` on the projected
  inputs in every forward pass (preset ``accurate`` by default: the paper's problem, λ = 1, to a
  certified duality gap, about 95 iterations per sample on MMSD token matrices; ``fast`` is approximate,
  ``paper`` runs up to 3000). Cost: on MMSD token matrices (n = 49, c = 64, batch 64, one CPU core) a
  training step takes seconds against 0.06 s with ``precomputed`` — the solver dominates, so prefer
  ``precomputed`` (or a GPU) for training. The sparse parts are taken as ``S_m = X_m − sg(L)``
  (equal to the solver's ``S_m`` at convergence, to the tolerance), so the projections still learn
  through them;
- ``unrolled``: :class:`mmaffect.models.unrolled_decomposition.UnrolledDecomposition`, ``K``
  differentiable ALM steps with learnable ``λ_k``, ``μ_k``, trained end to end (about 1.2 s per step
  in the setting above with K = 10).

Heads (``head``):

- ``mlp``: ``ŷ = MLP([z_1; …; z_M; z_R])`` with ``z_m = mean_t ReLU(W_m x_{m,t} + b_m)`` over the real
  tokens of modality ``m`` (a :class:`~mmaffect.models.blocks.SequenceEncoder`, ``[B, hidden]``, equal
  sizes: ``representations["pooled"]``) and ``z_R = ReLU(W_R r + b_R)`` with ``r`` the row mean of ``R``
  (``fused_pool: mean``) or a linear map of ``vec(R)`` (``flatten``) (``representations["fused"]``);
- ``llm``: ``R`` as the soft prompt of a causal LM, prediction by label-word log-likelihood
  (:mod:`mmaffect.models.rd_llm`; its ``[B, C]`` log-likelihoods are the logits). The LM reads ``R``
  only: there are no pooled encoders, ``representations["pooled"]`` is empty and ``fused`` is the row
  mean of ``R``.

Diagnostics: ``attention`` ``α`` ``[B, M + 1]`` (order ``L, S_1..S_M``), ``energy_low_rank``
``||L||_F²`` ``[B]``, ``energy_sparse`` ``||S_m||_F²`` ``[B, M]``, and for the solvers the iteration
counts / residuals.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

from mmaffect.models.base import AffectModel, ModelConfig
from mmaffect.models.blocks import AttentionFusion, SequenceEncoder, mlp
from mmaffect.ops.token_matrix import average_columns, fit_rows
from mmaffect.types import LOW_RANK, SPARSE_PREFIX, Batch, ModelOutput, TaskSpec, is_decomposition_modality


class RepresentationDecomposition(AffectModel):
    class Config(ModelConfig):
        modalities: list[str] | None = None  # the M >= 2 token-matrix modalities; null = all but rd_* ones
        rows: int = 49  # n
        columns: int = 64  # c
        projection: Literal["linear", "average"] = "linear"
        row_fit: Literal["repeat", "pad"] = "repeat"
        decomposition: Literal["precomputed", "on_the_fly", "unrolled"] = "on_the_fly"
        preset: Literal["accurate", "fast", "paper"] = "accurate"  # on_the_fly solver settings
        lam: float | None = None  # null = the preset's (accurate, paper: 1; fast: 1/sqrt(max(n, c)))
        max_iter: int | None = None
        svt_compat: bool = False  # threshold L at 1/μ as the official code (over-shrinks by M)
        unrolled_iterations: int = 10  # unrolled: K, and the initial μ_k = unrolled_mu · unrolled_rho^k
        unrolled_mu: float = 1.0
        unrolled_rho: float = 1.5
        separate_scorers: bool = False
        head: Literal["mlp", "llm"] = "mlp"
        hidden: int = 128
        head_layers: int = 2
        dropout: float = 0.1
        encoder: Literal["mean", "gru", "transformer"] = "mean"  # per-modality pooled encoders of the mlp head
        fused_pool: Literal["mean", "flatten"] = "mean"
        # llm head
        lm: str | None = None  # causal LM path or name
        lm_config: dict[str, Any] | None = None  # or a config (randomly initialised), e.g. for tests
        tokenizer: str | None = None  # default: the LM's
        prompt: str = "Answer:"
        label_words: list[str] | None = None  # default: the task's label names ('_' read as a space)
        lm_finetune: bool = False
        llm_score: Literal["sum", "mean"] = "sum"

    def __init__(self, dims: dict[str, int], task: TaskSpec, config: "RepresentationDecomposition.Config") -> None:
        names = config.modalities or [m for m in dims if not is_decomposition_modality(m)]
        missing = [m for m in names if m not in dims]
        if missing:
            raise ValueError(f"rd: modalities {missing} not in the data (has {sorted(dims)})")
        if len(names) < 2:
            raise ValueError(f"rd needs at least two token-matrix modalities, got {names} (data has {sorted(dims)})")
        used = {m: dims[m] for m in names}
        n, c = config.rows, config.columns
        if config.decomposition == "precomputed":
            parts = [LOW_RANK, *(f"{SPARSE_PREFIX}{m}" for m in names)]
            absent = [p for p in parts if p not in dims]
            if absent:
                raise ValueError(f"rd (decomposition: precomputed) needs modalities {absent}: run "
                                 f"`mmaffect decompose DATASET --modalities {' '.join(names)}` first "
                                 f"(data has {sorted(dims)})")
            widths = {dims[p] for p in parts}
            if len(widths) != 1:
                raise ValueError(f"rd: precomputed parts have different widths { {p: dims[p] for p in parts} }")
            c = widths.pop()
            used.update({p: dims[p] for p in parts})
        super().__init__(used, task, config)
        self.inputs = names
        self.n, self.c = n, c
        computes = config.decomposition != "precomputed"
        self.project = nn.ModuleDict({  # the token matrices X_m decomposed in the model
            m: nn.Linear(dims[m], c) if config.projection == "linear" and dims[m] != c else nn.Identity()
            for m in (names if computes else [])
        })
        self.unrolled = None
        if config.decomposition == "unrolled":
            from mmaffect.models.unrolled_decomposition import UnrolledDecomposition

            self.unrolled = UnrolledDecomposition(config.unrolled_iterations,
                                                  lam_init=config.lam or 1.0 / math.sqrt(max(n, c)),
                                                  mu_init=config.unrolled_mu, rho_init=config.unrolled_rho,
                                                  svt_compat=config.svt_compat)
        self.fusion = AttentionFusion(n * c, len(names) + 1, shared=not config.separate_scorers)
        self.dropout = nn.Dropout(config.dropout)
        self.flatten_fused = nn.Linear(n * c, c) if config.fused_pool == "flatten" and config.head == "mlp" else None
        h = config.hidden
        self.encoders = nn.ModuleDict({m: SequenceEncoder(dims[m], h, kind=config.encoder, dropout=config.dropout)
                                       for m in (names if config.head == "mlp" else [])})
        self.fused_project = nn.Sequential(nn.Linear(c, h), nn.ReLU()) if config.head == "mlp" else nn.Identity()
        if config.head == "mlp":
            self.head: nn.Module = mlp(h * (len(names) + 1), h, task.output_dim,
                                       layers=config.head_layers, dropout=config.dropout)
        else:
            from mmaffect.models.rd_llm import LabelWordHead

            self.head = LabelWordHead(c, task, lm=config.lm, lm_config=config.lm_config, tokenizer=config.tokenizer,
                                      prompt=config.prompt, words=config.label_words,
                                      finetune=config.lm_finetune, score=config.llm_score)
            self._register_state_dict_hook(_untie_shared_tensors)

    # ------------------------------------------------------------------------------------------ parts

    def project_tokens(self, batch: Batch) -> dict[str, Tensor]:
        """Per modality, the tokens with columns mapped to ``c``: ``[B, T_m, c]``."""
        out = {}
        for m in self.inputs:
            x = batch.features[m]
            out[m] = average_columns(x, self.c) if self.config.projection == "average" else self.project[m](x)
        return out

    def token_matrices(self, tokens: dict[str, Tensor], batch: Batch) -> Tensor:
        """``X`` ``[B, M, n, c]``: each modality's rows fitted to ``n``."""
        return torch.stack([fit_rows(tokens[m], batch.masks[m].sum(1), self.n, self.config.row_fit)
                            for m in self.inputs], dim=1)

    def decompose(self, batch: Batch) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """``(L [B, n, c], S [B, M, n, c], solver diagnostics)`` by the configured decomposition."""
        mode = self.config.decomposition
        if mode == "precomputed":
            low = batch.features[LOW_RANK]
            sparse = torch.stack([batch.features[f"{SPARSE_PREFIX}{m}"] for m in self.inputs], dim=1)
            if low.shape[1:] != (self.n, self.c) or sparse.shape[2:] != (self.n, self.c):
                raise ValueError(f"rd: precomputed {LOW_RANK} has shape {tuple(low.shape)}; expected [B, {self.n}, "
                                 f"{self.c}] (set model.rows to the n used by `mmaffect decompose`)")
            return low, sparse, {}
        x = self.token_matrices(self.project_tokens(batch), batch)
        if mode == "unrolled":
            low, sparse = self.unrolled(x)
            with torch.no_grad():
                norm = torch.linalg.vector_norm(x, dim=(-2, -1)).clamp_min(1e-12)
                gap = torch.linalg.vector_norm(x - low.unsqueeze(1) - sparse, dim=(-2, -1))
            return low, sparse, {"decomposition_residual": (gap / norm).amax(dim=1)}
        from mmaffect.ops.decomposition import decompose

        with torch.no_grad():
            result = decompose(x.detach().float(), preset=self.config.preset, lam=self.config.lam,
                               max_iter=self.config.max_iter, svt_compat=self.config.svt_compat)
        low = result.low_rank.to(x.dtype)
        solver = {"decomposition_iterations": result.iterations, "decomposition_residual": result.residual}
        if result.gap is not None:  # accurate: the certified bound on the relative objective gap
            solver["decomposition_gap"] = result.gap
        return low, x - low.unsqueeze(1), solver

    # ------------------------------------------------------------------------------------------ forward

    def forward(self, batch: Batch) -> ModelOutput:
        missing = [m for m in self.modalities if m not in batch.features]
        if missing:
            raise KeyError(f"rd: batch lacks modalities {missing} (has {batch.modalities})")
        pooled = {m: enc(batch.features[m], batch.masks[m])[0] for m, enc in self.encoders.items()}
        low, sparse, solver = self.decompose(batch)
        parts = torch.cat([low.unsqueeze(1), sparse], dim=1)
        fused, alpha = self.fusion(parts)
        r = self.flatten_fused(fused.flatten(1)) if self.flatten_fused is not None else fused.mean(1)
        z_fused = self.fused_project(r)
        if self.config.head == "mlp":
            z = self.dropout(torch.cat([*(pooled[m] for m in self.inputs), z_fused], dim=-1))
            prediction = self.finish(self.head(z))
        else:
            prediction = self.head(fused)
        diagnostics = {
            "attention": alpha,
            "energy_low_rank": low.detach().pow(2).sum(dim=(-2, -1)),
            "energy_sparse": sparse.detach().pow(2).sum(dim=(-2, -1)),
            **solver,
        }
        representations = {"pooled": pooled, "fused": z_fused, "low_rank": low,
                           "sparse": {m: sparse[:, i] for i, m in enumerate(self.inputs)}}
        return ModelOutput(prediction, representations, diagnostics)


def _untie_shared_tensors(module: nn.Module, state: dict[str, Tensor], prefix: str, metadata: Any) -> None:
    """Copy state entries that share storage with an earlier one (tied LM embeddings), so the state can be
    saved as safetensors; loading writes the same values into the tied parameter twice."""
    seen: set[tuple[int, int]] = set()
    for key, value in list(state.items()):
        if not key.startswith(prefix) or not isinstance(value, Tensor):
            continue
        ident = (value.untyped_storage().data_ptr(), value.storage_offset())
        if ident in seen:
            state[key] = value.clone()
        else:
            seen.add(ident)
