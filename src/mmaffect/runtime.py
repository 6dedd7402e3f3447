"""Thread settings chosen by the package, so a user never needs ``OMP_NUM_THREADS``.

The models this package trains on a CPU are small (hidden sizes of 32–256, batches of 32–64): their
matrix products are too small for intra-op parallelism to pay, while every extra intra-op thread
spins and waits on a busy machine. Measured with ``benchmarks/bench_contention.py`` (docs/benchmarks.md):
``mmaffect train`` with one intra-op thread is as fast as with two on a quiet 2-core machine, and about
ten times faster when another CPU-bound process runs beside it. So the default is **one intra-op
thread per process**; parallel work (decomposition workers, benchmark cells, media decoding) uses
processes or its own worker pools instead.

Precedence: an explicit ``threads`` argument (``--threads``), then ``MMAFFECT_THREADS``, then
``OMP_NUM_THREADS`` when the user set it, then 1.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from mmaffect.errors import ConfigError

DEFAULT_THREADS = 1


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None = None) -> int:
    """The intra-op thread count to use, by the precedence of the module docstring."""
    for source, value in (("--threads", threads), ("MMAFFECT_THREADS", os.environ.get("MMAFFECT_THREADS")),
                          ("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS"))):
        if value is None or value == "":
            continue
        try:
            count = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}={value!r}: expected a positive whole number of threads") from None
        if count < 1:
            raise ConfigError(f"{source}={count}: the number of threads must be at least 1")
        return count
    return DEFAULT_THREADS


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op (and inter-op, once) thread counts for this process; return the count used."""
    import torch

    count = resolve_threads(threads)
    torch.set_num_threads(count)
    try:
        torch.set_num_interop_threads(max(1, min(count, 2)))
    except RuntimeError:
        pass  # inter-op threads can only be set before the first parallel region; the intra-op setting matters
    return count


@contextmanager
def thread_scope(count: int) -> Iterator[int]:
    """Run a block with ``count`` intra-op threads, then restore the previous setting (for a solver that
    sizes its own worker pool from ``torch.get_num_threads()``)."""
    import torch

    if count < 1:
        raise ConfigError(f"threads={count}: the number of threads must be at least 1")
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(previous)
