"""Token ids of a text field, carried as split extras for models that hold their own text encoder.

``tokens_input_ids`` / ``tokens_attention_mask`` (``[N, max_tokens]`` int64) are added to every split;
the loader passes extras named ``tokens.<key>`` or ``tokens_<key>`` to ``Batch.text_tokens[<key>]``
(``tokens_`` is the spelling the native format can store).
"""

from __future__ import annotations

import numpy as np

from mmaffect.data.bundle import DatasetBundle, SplitData
from mmaffect.features.fields import field_texts


def add_token_ids(bundle: DatasetBundle, tokenizer: str = "all-MiniLM-L6-v2", *, field: str = "raw_text",
                  max_tokens: int = 64, prefix: str = "tokens_") -> DatasetBundle:
    """A copy of ``bundle`` whose splits carry the token ids of ``field`` (``a+b`` joined by the separator token)."""
    from transformers import AutoTokenizer

    from mmaffect.features.text import resolve_model_path

    tok = AutoTokenizer.from_pretrained(resolve_model_path(tokenizer))
    sep = f" {tok.sep_token} " if getattr(tok, "sep_token", None) else "\n"
    splits = {}
    for name, split in bundle.splits.items():
        texts = field_texts(split, field, sep=sep, where=f"{bundle.name}/{name}")
        enc = tok(texts, padding="max_length", truncation=True, max_length=max_tokens, return_tensors="np")
        extras = dict(split.extras)
        extras[f"{prefix}input_ids"] = np.asarray(enc["input_ids"], dtype=np.int64)
        extras[f"{prefix}attention_mask"] = np.asarray(enc["attention_mask"], dtype=np.int64)
        splits[name] = SplitData(split.features, split.lengths, split.labels, split.ids, split.raw_text, extras,
                                 split.texts)
    return DatasetBundle(bundle.name, bundle.task, splits,
                         {**bundle.provenance, "tokens": {"tokenizer": tokenizer, "field": field,
                                                          "max_tokens": max_tokens}})
