"""A rich progress bar over all epochs of a run."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class EpochProgress:
    """One bar for the whole run; the description shows epoch, loss and validation."""

    def __init__(self, epochs: int, steps_per_epoch: int, enabled: bool = True) -> None:
        self.epochs, self.steps = epochs, steps_per_epoch
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: Any = None
        self._last = ""

    def __enter__(self) -> EpochProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("training", total=self.epochs * self.steps)
        return self

    def advance_to(self, epoch: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=epoch * self.steps)

    def step(self, epoch: int, loss: float) -> None:
        if self._progress is not None:
            desc = f"epoch {epoch + 1}/{self.epochs} loss {loss:.3f}{self._last}"
            self._progress.update(self._task, advance=1, description=desc)

    def end_epoch(self, epoch: int, row: dict[str, float]) -> None:
        if "val_accuracy" in row:
            self._last = f" val_acc {row['val_accuracy']:.3f}"

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
