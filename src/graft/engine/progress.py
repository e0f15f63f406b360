"""Progress of a training run: a live bar in a terminal, one line per epoch elsewhere.

A rich bar is transient: it redraws in place and leaves nothing behind, so a run whose
stderr goes to a log file, a CI job or ``2> log`` would show no progress at all. There
the engine prints one plain line per epoch instead, e.g.
``epoch 3/30  loss 0.412  val_accuracy 0.873  12.4 s``.
"""

from __future__ import annotations

import math
import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

if TYPE_CHECKING:
    import torch

#: The bar shows a new loss at most this often (seconds); rich redraws ten times a second.
REDRAW_SECONDS = 0.25
#: Row keys that are bookkeeping, not figures worth a column in the epoch line.
_NOT_SHOWN = ("epoch", "seconds", "lr")


class EpochProgress:
    """Reports a run's progress on ``stream`` (stderr by default).

    Args:
        epochs: Epochs of the whole run.
        steps_per_epoch: Optimizer steps per epoch (the bar's unit).
        enabled: False prints nothing (``progress=False``, or a process other than rank 0).
        stream: Where to write; None means ``sys.stderr`` at the time the run starts.
            A terminal gets the live bar, anything else one line per epoch.
        monitor: The metric that selects the checkpoint; shown in the epoch line
            even when it is not a validation metric (a label-free validator).
    """

    def __init__(self, epochs: int, steps_per_epoch: int, enabled: bool = True, *,
                 stream: TextIO | None = None, monitor: str = "val_accuracy") -> None:
        self.epochs, self.steps = epochs, steps_per_epoch
        self.enabled = enabled
        self.monitor = monitor
        self._stream = stream
        self._progress: Progress | None = None
        self._lines: TextIO | None = None
        self._task: Any = None
        self._last = ""
        self._drawn = -math.inf  # when the loss was last shown

    def __enter__(self) -> EpochProgress:
        if not self.enabled:
            return self
        stream = self._stream if self._stream is not None else sys.stderr
        if _is_terminal(stream):
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), transient=True,
                console=Console(file=stream),
            )
            self._progress.start()
            self._task = self._progress.add_task("training", total=self.epochs * self.steps)
        else:
            self._lines = stream
        return self

    def advance_to(self, epoch: int) -> None:
        """Skip to the start of ``epoch`` (0-based), e.g. on resume."""
        if self._progress is not None:
            self._progress.update(self._task, completed=epoch * self.steps)
        elif self._lines is not None and epoch > 0:
            self._write(f"resuming at epoch {epoch + 1}/{self.epochs}")

    def step(self, epoch: int, loss: float | torch.Tensor) -> None:
        """One optimizer step of ``epoch`` (0-based) with its loss. A tensor's value is read (on a GPU, a wait
        for the step to end) only when the shown loss is older than :data:`REDRAW_SECONDS`."""
        if self._progress is None:
            return
        now = time.monotonic()
        if now - self._drawn < REDRAW_SECONDS:
            self._progress.update(self._task, advance=1)
            return
        self._drawn = now
        desc = f"epoch {epoch + 1}/{self.epochs} loss {float(loss):.3f}{self._last}"
        self._progress.update(self._task, advance=1, description=desc)

    def start_row(self, row: dict[str, float]) -> None:
        """The starting weights' validation figures (epoch 0), when they compete."""
        if self._lines is not None:
            self._write(epoch_line(row, self.epochs, self.monitor) + "  (start)")

    def end_epoch(self, epoch: int, row: dict[str, float]) -> None:
        """The finished ``epoch`` (0-based) and its history row."""
        if "val_accuracy" in row:
            self._last = f" val_acc {row['val_accuracy']:.3f}"
        if self._lines is not None:
            self._write(epoch_line(row, self.epochs, self.monitor))

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _write(self, line: str) -> None:
        if self._lines is None:
            return
        self._lines.write(line + "\n")
        self._lines.flush()  # a log tailed with `tail -f` shows the epoch as it ends


def epoch_line(row: dict[str, float], epochs: int, monitor: str = "val_accuracy") -> str:
    """One history row as a log line: ``epoch 3/30  loss 0.412  val_accuracy 0.873  12.4 s``.

    The training loss comes first, then the validation metrics and the monitored
    metric; other training figures (a domain loss, ...) stay in ``history.csv``.
    """
    parts = [f"epoch {int(row['epoch'])}/{epochs}"]
    if "train_loss" in row:
        parts.append(f"loss {_number(row['train_loss'])}")
    shown = [k for k in row if k.startswith("val_") and k not in _NOT_SHOWN]
    if monitor in row and monitor not in shown:
        shown.append(monitor)
    parts += [f"{k} {_number(row[k])}" for k in shown]
    if "seconds" in row:
        parts.append(f"{row['seconds']:.1f} s")
    return "  ".join(parts)


def _number(value: float) -> str:
    """Three decimals for losses and accuracies; significant digits for tiny or huge values."""
    if math.isnan(value):
        return "nan"
    return f"{value:.3f}" if value == 0 or 0.01 <= abs(value) < 1000 else f"{value:.3g}"


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False
