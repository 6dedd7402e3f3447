"""Batching: a torch ``Dataset`` over row indices and a collate function that builds a :class:`Batch`."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mmaffect.data.bundle import SplitData
from mmaffect.types import Batch

TOKENS_PREFIXES = ("tokens.", "tokens_")  # "tokens_" is the spelling the native format can store


class SplitDataset(Dataset):
    """Yields row indices; :func:`collate` gathers the rows so memory-mapped arrays are read per batch."""

    def __init__(self, split: SplitData, classification: bool) -> None:
        self.split = split
        self.classification = classification

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> int:
        return i

    def collate(self, rows: list[int]) -> Batch:
        idx = np.asarray(rows)
        order = np.argsort(idx)  # sorted reads are faster on memmaps; restore order after
        sorted_idx = idx[order]
        inverse = np.argsort(order)
        features, masks = {}, {}
        for m, arr in self.split.features.items():
            lengths = np.asarray(self.split.lengths[m][sorted_idx])[inverse]
            t_max = max(int(lengths.max()), 1)
            x = np.asarray(arr[sorted_idx])[inverse][:, :t_max]
            features[m] = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            masks[m] = torch.arange(t_max)[None, :] < torch.from_numpy(lengths.astype(np.int64))[:, None]
        labels = np.asarray(self.split.labels[idx])
        label_t = torch.from_numpy(labels.astype(np.int64 if self.classification else np.float32))
        extras = {k: torch.from_numpy(np.asarray(v[idx])) for k, v in self.split.extras.items()}
        # extras named "tokens.<key>" / "tokens_<key>" (input_ids, attention_mask) feed a text encoder
        tokens = {k[len("tokens."):]: v for k, v in extras.items() if k.startswith(TOKENS_PREFIXES)}
        return Batch(
            features=features,
            masks=masks,
            labels=label_t,
            ids=[self.split.ids[i] for i in rows],
            index=torch.from_numpy(idx.astype(np.int64)),
            text_tokens=tokens or None,
            extras=extras,
        )


def make_loader(
    split: SplitData, *, classification: bool, batch_size: int, shuffle: bool, seed: int = 0
) -> DataLoader:
    dataset = SplitDataset(split, classification)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=dataset.collate, generator=generator
    )
