"""The ``llm`` head of ``rd``: the fused matrix as a soft prompt of a causal language model.

For the fused matrix ``R ∈ R^{n×c}`` of a sample (arXiv 2506.07086, section 3.3):

    soft tokens  E_R = R W + b                          W ∈ R^{c×H} (H the LM's embedding width)
    input        [b_start; E_R; b_end; emb(prompt); emb(y_1..y_ℓ)]

with two learned boundary vectors ``b_start, b_end ∈ R^H`` around the soft tokens, then the task
prompt (e.g. ``"Is the post sarcastic? Answer:"``) and the tokens of a label word. For every class
``j`` with label word ``w_j = (y_1..y_ℓ)`` the head returns its log-likelihood

    s_j = Σ_t log p_LM(y_t | prefix, y_<t)        (``score="sum"``; ``"mean"`` divides by ℓ)

so prediction compares the label words of a closed set and never parses generated text. The head's
output ``[B, C]`` is used as the class logits: the generic trainer's cross-entropy over it is

    −log softmax(s)_y = −s_y + log Σ_j exp(s_j),

the LM loss of the gold label word normalised over the closed set of label words (it differs from the
plain LM loss ``−s_y`` only by the normaliser, which keeps the wrong label words unlikely too).

The LM is any ``transformers`` causal LM: a path or hub name (``lm``), or a config (``lm_config``,
e.g. ``{"model_type": "llama", "hidden_size": 32, ...}``, randomly initialised, for tests). It is
frozen unless ``finetune``; the projection and the boundary vectors always train.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from mmaffect.types import TaskSpec


def _load_lm(lm: str | None, lm_config: dict[str, Any] | None) -> nn.Module:
    from transformers import AutoConfig, AutoModelForCausalLM

    if lm_config is not None:
        options = dict(lm_config)
        model_type = options.pop("model_type", None)
        if model_type is None:
            raise ValueError("rd llm head: lm_config needs a 'model_type' (e.g. 'llama' or 'gpt2')")
        return AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **options))
    if lm is None:
        raise ValueError("rd llm head: set model.lm (path or name of a causal LM) or model.lm_config")
    from mmaffect.encoders.text import resolve_model_path

    return _from_pretrained(AutoModelForCausalLM, resolve_model_path(lm))


def _pretrained_args(path: str) -> tuple[str, dict[str, Any]] | tuple[str]:
    """A ``.gguf`` file is loaded (dequantised) from its folder with ``gguf_file=`` (needs ``gguf``)."""
    from pathlib import Path

    if path.endswith(".gguf"):
        return str(Path(path).parent), {"gguf_file": Path(path).name}  # type: ignore[return-value]
    return (path,)


def _from_pretrained(factory: Any, path: str) -> Any:
    args = _pretrained_args(path)
    return factory.from_pretrained(args[0], **(args[1] if len(args) > 1 else {}))


def _load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    from mmaffect.encoders.text import resolve_model_path

    return _from_pretrained(AutoTokenizer, resolve_model_path(name))


def label_words(task: TaskSpec, words: list[str] | None) -> list[str]:
    """The label words: ``words`` if given, else ``task.label_names`` with ``_`` read as a space."""
    if task.kind != "classification":
        raise ValueError("rd llm head: only classification tasks have label words (use head: mlp for regression)")
    if words is None:
        if len(task.label_names) != task.num_classes:
            raise ValueError(f"rd llm head: the task has {task.num_classes} classes but label names "
                             f"{task.label_names}; set model.label_words")
        words = [name.replace("_", " ") for name in task.label_names]
    if len(words) != task.num_classes:
        raise ValueError(f"rd llm head: {len(words)} label words for {task.num_classes} classes")
    return list(words)


def _drop_frozen_lm(module: nn.Module, state: dict[str, Tensor], prefix: str, _meta: Any) -> None:
    """State-dict hook: leave out the frozen LM's weights (they come from ``lm``, not training)."""
    for key in [k for k in state if k.startswith(prefix + "lm.")]:
        del state[key]


class LabelWordHead(nn.Module):
    """``R [B, n, c] -> [B, C]`` label-word log-likelihoods under a causal LM with ``R`` as soft prompt."""

    def __init__(self, c: int, task: TaskSpec, *, lm: str | None = None, lm_config: dict[str, Any] | None = None,
                 tokenizer: str | None = None, prompt: str = "Answer:", words: list[str] | None = None,
                 finetune: bool = False, score: Literal["sum", "mean"] = "sum") -> None:
        super().__init__()
        self.words = label_words(task, words)
        self.finetune, self.score = finetune, score
        self.lm = _load_lm(lm, lm_config)
        tok_name = tokenizer or lm
        if tok_name is None:
            raise ValueError("rd llm head: set model.tokenizer (a tokenizer path or name) for an lm_config model")
        tok = _load_tokenizer(tok_name)
        embed = self.lm.get_input_embeddings()
        vocab, hidden = int(embed.num_embeddings), int(embed.embedding_dim)
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"] if prompt else []
        label_ids = [tok(" " + w.strip(), add_special_tokens=False)["input_ids"] for w in self.words]
        empty = [w for w, ids in zip(self.words, label_ids) if not ids]
        if empty:
            raise ValueError(f"rd llm head: label word(s) {empty} tokenise to nothing")
        if len({tuple(ids) for ids in label_ids}) != len(label_ids):
            raise ValueError(f"rd llm head: label words {self.words} are not distinct after tokenisation")
        too_big = max(max(ids) for ids in [*label_ids, prompt_ids or [0]])
        if too_big >= vocab:
            raise ValueError(f"rd llm head: the tokenizer gives id {too_big} but the LM has {vocab} embeddings; "
                             f"use the LM's own tokenizer")
        longest = max(len(ids) for ids in label_ids)
        padded = torch.zeros(len(label_ids), longest, dtype=torch.long)
        mask = torch.zeros(len(label_ids), longest, dtype=torch.bool)
        for j, ids in enumerate(label_ids):
            padded[j, : len(ids)] = torch.tensor(ids)
            mask[j, : len(ids)] = True
        self.register_buffer("prompt_ids", torch.tensor(prompt_ids, dtype=torch.long), persistent=False)
        self.register_buffer("label_ids", padded, persistent=False)
        self.register_buffer("label_mask", mask, persistent=False)
        self.project = nn.Linear(c, hidden)
        std = float(embed.weight.detach().float().std()) or 0.02
        self.boundary = nn.Parameter(torch.randn(2, hidden) * std)
        if not finetune:
            for p in self.lm.parameters():
                p.requires_grad_(False)
            self.lm.eval()
        if not finetune and lm is not None:
            # a frozen LM loaded from `lm` is loaded again with the checkpoint: its weights are not saved
            self._register_state_dict_hook(_drop_frozen_lm)
            self._register_load_state_dict_pre_hook(self._restore_frozen_lm, with_module=False)

    def _restore_frozen_lm(self, state: dict[str, Tensor], prefix: str, *_: Any) -> None:
        """Fill the frozen LM's entries missing from ``state`` with the loaded LM's own weights."""
        for key, value in self.lm.state_dict(prefix=prefix + "lm.", keep_vars=True).items():
            state.setdefault(key, value.detach())

    def train(self, mode: bool = True) -> "LabelWordHead":
        super().train(mode)
        if not self.finetune:
            self.lm.eval()  # a frozen LM keeps its dropout off
        return self

    def soft_prompt(self, fused: Tensor) -> Tensor:
        """``[b_start; R W + b; b_end]`` ``[B, n + 2, H]``."""
        soft = self.project(fused)
        b = soft.shape[0]
        start, end = (self.boundary[i].expand(b, 1, -1) for i in (0, 1))
        return torch.cat([start, soft, end], dim=1)

    def forward(self, fused: Tensor) -> Tensor:
        b = fused.shape[0]
        embed = self.lm.get_input_embeddings()
        dtype = embed.weight.dtype
        prefix = self.soft_prompt(fused).to(dtype)
        prompt = embed(self.prompt_ids).unsqueeze(0).expand(b, -1, -1)
        classes, longest = self.label_ids.shape
        labels = embed(self.label_ids)  # [C, ℓ, H]
        head = torch.cat([prefix, prompt], dim=1)  # [B, P, H]
        p = head.shape[1]
        seq = torch.cat([head.unsqueeze(1).expand(b, classes, -1, -1),
                         labels.unsqueeze(0).expand(b, -1, -1, -1)], dim=2).flatten(0, 1)
        attention = torch.cat([torch.ones(classes, p, dtype=torch.long, device=fused.device),
                               self.label_mask.long()], dim=1).repeat(b, 1)
        try:
            logits = self.lm(inputs_embeds=seq, attention_mask=attention, logits_to_keep=longest + 1).logits
        except TypeError:  # an LM without logits_to_keep
            logits = self.lm(inputs_embeds=seq, attention_mask=attention).logits[:, -(longest + 1):]
        logp = torch.log_softmax(logits[:, :longest].float(), dim=-1)  # positions p-1 .. p+ℓ-2 predict y_1..y_ℓ
        target = self.label_ids.repeat(b, 1)
        token_ll = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1) * self.label_mask.repeat(b, 1)
        ll = token_ll.sum(-1).view(b, classes)
        if self.score == "mean":
            ll = ll / self.label_mask.sum(-1).to(ll.dtype)
        return ll
