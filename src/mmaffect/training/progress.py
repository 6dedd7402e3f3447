"""Progress of long work on the terminal: seeds and epochs of a run, cells of a grid, with ETA.

Shown on standard error, by default only when it is a terminal (quiet in CI and in pipes);
``--progress`` / ``--no-progress`` force it either way. Uses ``rich`` (a dependency).
"""

from __future__ import annotations

import sys
from typing import Any

from lightning.pytorch.callbacks import Callback


def progress_default(progress: bool | None) -> bool:
    """``progress`` when given, else whether standard error is a terminal."""
    if progress is not None:
        return bool(progress)
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Bars:
    """A rich progress display on standard error, or nothing when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.display: Any = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.display = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn("eta"), TimeRemainingColumn(), console=Console(stderr=True),
                                    transient=False)
            self.display.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.display is not None:
            self.display.stop()

    def add(self, description: str, total: int | None) -> Any:
        return None if self.display is None else self.display.add_task(description, total=total)

    def update(self, task: Any, **fields: Any) -> None:
        if self.display is not None and task is not None:
            self.display.update(task, **fields)


class _EpochCallback(Callback):
    def __init__(self, bars: _Bars, task: Any) -> None:
        self.bars, self.task = bars, task

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.bars.update(self.task, completed=trainer.current_epoch + 1)


class RunProgress(_Bars):
    """Seeds of a run (one bar) and epochs of the current seed (another; early stopping ends it early)."""

    def __init__(self, *, enabled: bool, seeds: list[int], max_epochs: int) -> None:
        super().__init__(enabled)
        self.seeds, self.max_epochs = seeds, max_epochs
        self.seed_task = self.epoch_task = None

    def __enter__(self):
        super().__enter__()
        self.seed_task = self.add("seeds", len(self.seeds))
        return self

    def callbacks(self, seed: int) -> list[Callback]:
        if self.display is None:
            return []
        if self.epoch_task is not None:
            self.display.remove_task(self.epoch_task)
        self.epoch_task = self.add(f"seed {seed}: epochs", self.max_epochs)
        return [_EpochCallback(self, self.epoch_task)]

    def seed_done(self, seed: int) -> None:
        if self.display is not None:
            self.display.advance(self.seed_task)


class GridProgress(_Bars):
    """Cells of a benchmark grid."""

    def __init__(self, *, enabled: bool, cells: int) -> None:
        super().__init__(enabled)
        self.cells = cells
        self.task = None

    def __enter__(self):
        super().__enter__()
        self.task = self.add("cells", self.cells)
        return self

    def cell_done(self) -> None:
        if self.display is not None:
            self.display.advance(self.task)
