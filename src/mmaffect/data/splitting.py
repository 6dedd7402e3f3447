"""A seeded train/valid/test split for data that comes without one, optionally keeping groups together.

:func:`seeded_split` shuffles the groups (every row its own group, or the rows sharing a value of a
column such as ``speaker``) with ``numpy.random.default_rng(seed)`` and fills train, valid and test in
that order until each reaches its share of the rows, so no group is in two splits. The recipe is
returned for the dataset's provenance, so the split can be made again.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from mmaffect.errors import ConfigError, DataError

SPLIT_NAMES = ("train", "valid", "test")


def check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """Three finite positive shares of train, valid and test summing to 1."""
    values = tuple(float(r) for r in ratios)
    if len(values) != 3 or not all(math.isfinite(r) and r > 0 for r in values):
        raise ConfigError(f"split ratios must be three positive numbers (train valid test), got {list(ratios)}")
    if abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError(f"split ratios {list(values)} must sum to 1 (e.g. 0.8 0.1 0.1)")
    return values  # type: ignore[return-value]


def seeded_split(groups: Sequence[str], ratios: Sequence[float], seed: int, *,
                 group_by: str | None = None) -> tuple[list[str], dict[str, Any]]:
    """The split name of every row and the recipe; ``groups[i]`` is row ``i``'s group (its own id when ungrouped).

    Groups are shuffled by the seed, then split ``k`` takes groups until it holds ``round(ratio_k * N)``
    rows (cumulatively), so sizes follow the ratios as closely as whole groups allow.
    """
    shares = check_ratios(ratios)
    order = list(dict.fromkeys(groups))
    what = f"groups of {group_by!r}" if group_by else "rows"
    if len(order) < 3:
        raise DataError(f"a seeded split needs at least 3 {what}, the data has {len(order)}")
    size = {g: 0 for g in order}
    for g in groups:
        size[g] += 1
    shuffled = [order[i] for i in np.random.default_rng(seed).permutation(len(order))]
    n = len(groups)
    bounds = [round(shares[0] * n), round((shares[0] + shares[1]) * n), n]
    assign: dict[str, str] = {}
    filled, part, taken = 0, 0, [0, 0, 0]
    for i, g in enumerate(shuffled):
        remaining = len(shuffled) - i  # groups still to place, g included
        while part < 2 and taken[part] > 0 and (filled >= bounds[part] or remaining <= 2 - part):
            part += 1  # this split has its share (or the later ones need the remaining groups)
        assign[g] = SPLIT_NAMES[part]
        taken[part] += 1
        filled += size[g]
    counts = {s: sum(size[g] for g in order if assign[g] == s) for s in SPLIT_NAMES}
    empty = [s for s, c in counts.items() if c == 0]
    if empty:
        raise DataError(f"the seeded split {list(shares)} of {len(order)} {what} leaves {empty} empty; "
                        f"use larger shares for them or more data")
    recipe = {"method": "seeded shuffle", "ratios": list(shares), "seed": int(seed), "group_by": group_by,
              "sizes": counts}
    return [assign[g] for g in groups], recipe
