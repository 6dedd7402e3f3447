"""In-memory (or memory-mapped) dataset: splits of padded per-modality arrays, labels and ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmaffect.types import TaskSpec

SPLITS = ("train", "valid", "test")


@dataclass
class SplitData:
    """One split. ``features[m]`` is ``[N, T_m, D_m]`` float32 (possibly a memmap), ``lengths[m]`` ``[N]``.

    ``labels`` is ``[N]`` (float for regression, int for classification); ``extras`` holds per-sample
    extra targets (e.g. SIMS unimodal labels) as ``[N, ...]`` arrays.
    """

    features: dict[str, np.ndarray]
    lengths: dict[str, np.ndarray]
    labels: np.ndarray
    ids: list[str]
    raw_text: list[str] | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.labels)
        for name, arr in {**self.features, **{f"{k} lengths": v for k, v in self.lengths.items()}}.items():
            if len(arr) != n:
                raise ValueError(f"{name}: {len(arr)} rows but {n} labels")
        for name, values in self.texts.items():
            if len(values) != n:
                raise ValueError(f"text field {name!r}: {len(values)} entries but {n} labels")
        if len(self.ids) != n:
            raise ValueError(f"ids: {len(self.ids)} entries but {n} labels")
        if set(self.features) != set(self.lengths):
            raise ValueError(f"features {sorted(self.features)} and lengths {sorted(self.lengths)} differ")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, modalities: list[str]) -> "SplitData":
        missing = [m for m in modalities if m not in self.features]
        if missing:
            raise KeyError(f"modalities {missing} not in this split (has {sorted(self.features)})")
        return SplitData(
            features={m: self.features[m] for m in modalities},
            lengths={m: self.lengths[m] for m in modalities},
            labels=self.labels,
            ids=self.ids,
            raw_text=self.raw_text,
            extras=self.extras,
            texts=self.texts,
        )

    def select(self, rows: np.ndarray) -> "SplitData":
        """The samples at ``rows`` (materialised)."""
        return SplitData(
            features={m: np.asarray(v[rows]) for m, v in self.features.items()},
            lengths={m: np.asarray(v[rows]) for m, v in self.lengths.items()},
            labels=np.asarray(self.labels[rows]),
            ids=[self.ids[i] for i in rows],
            raw_text=[self.raw_text[i] for i in rows] if self.raw_text is not None else None,
            extras={k: np.asarray(v[rows]) for k, v in self.extras.items()},
            texts={k: [v[i] for i in rows] for k, v in self.texts.items()},
        )


@dataclass
class DatasetBundle:
    """A dataset: its name, task, splits and provenance.

    ``family`` is the benchmark the data belongs to (``mosi``, ``mosei``, ``sims``, ``mmsd``, ...), whatever
    file it was read from: set by the named readers, recognised from an MMSA pickle's content, recorded
    in a native ``dataset.json``; None when unknown. Per-dataset config sections are chosen by it.
    """

    name: str
    task: TaskSpec
    splits: dict[str, SplitData]
    provenance: dict[str, Any] = field(default_factory=dict)
    family: str | None = None

    @property
    def modalities(self) -> list[str]:
        return list(next(iter(self.splits.values())).features)

    def require_features(self) -> None:
        """Raise :class:`mmaffect.errors.DataError` when the dataset has no feature modality to train on.

        A converted manifest holds texts and media paths only; ``mmaffect extract`` adds modalities.
        Token ids carried as ``tokens.*`` extras (read by a model's own text encoder) count as an input.
        """
        from mmaffect.data.loader import TOKENS_PREFIXES
        from mmaffect.errors import DataError

        if self.modalities or any(k.startswith(TOKENS_PREFIXES) for s in self.splits.values() for k in s.extras):
            return
        raise DataError(f"dataset {self.name!r} has no feature modality yet (only texts, labels and media paths): "
                        f"add one before training with `mmaffect extract DATA --encoder all-MiniLM-L6-v2` (text "
                        f"embeddings; DATA is the native directory `mmaffect convert MANIFEST DATA` wrote), or an "
                        f"image/audio encoder (e.g. `mmaffect extract DATA --encoder-kind clip --encoder CLIP_MODEL`)")

    def dims(self) -> dict[str, int]:
        split = next(iter(self.splits.values()))
        return {m: int(a.shape[-1]) for m, a in split.features.items()}

    def split(self, name: str) -> SplitData:
        if name not in self.splits:
            raise KeyError(f"dataset {self.name!r} has no split {name!r} (has {sorted(self.splits)})")
        return self.splits[name]

    def with_modalities(self, modalities: list[str] | None) -> "DatasetBundle":
        if not modalities:
            return self
        return DatasetBundle(
            self.name, self.task, {k: s.subset(modalities) for k, s in self.splits.items()}, self.provenance,
            self.family,
        )
