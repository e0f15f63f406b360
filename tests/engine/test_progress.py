"""Progress: a live bar in a terminal, one line per epoch in a log, nothing when quiet."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from graft.data import DataSource, make_dataset, make_splits
from graft.engine.config import TrainConfig
from graft.engine.param_groups import model_param_groups
from graft.engine.progress import EpochProgress, epoch_line
from graft.engine.trainer import FitResult, Trainer
from graft.models import GraftModel
from graft.strategies.base import supervised_step

CFG = TrainConfig(epochs=3, batch_size=16, lr=1e-2, progress=True)
LINE = re.compile(r"^epoch (\d+)/3  loss \d+\.\d{3}  val_loss \d+\.\d{3}  val_accuracy \d\.\d{3}  \d+\.\d s$")


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, as stderr does in an interactive shell."""

    def isatty(self) -> bool:
        return True


def _fit(source: DataSource, make_mlp: Callable[..., GraftModel], config: TrainConfig = CFG, *,
         start: bool = False) -> FitResult:
    splits = make_splits(source, test_fraction=0.2, val_fraction=0.25)
    model = make_mlp(source)
    train = make_dataset(source, splits.train, model.spec.input)
    val = make_dataset(source, splits.val, model.spec.input)
    trainer = Trainer(config, seed=0, start_is_candidate=start)
    return trainer.fit(model, model_param_groups(model, weight_decay=0.0), supervised_step, train, val)


def test_a_log_gets_one_line_per_epoch(blobs_source: DataSource, make_mlp: Callable,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    result = _fit(blobs_source, make_mlp)  # pytest's captured stderr is not a terminal, like `2> log`
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert [LINE.match(line).group(1) for line in lines] == ["1", "2", "3"], lines  # type: ignore[union-attr]
    assert f"val_accuracy {result.history[-1]['val_accuracy']:.3f}" in lines[-1]
    assert captured.out == ""  # stdout stays for results


def test_quiet_prints_nothing(blobs_source: DataSource, make_mlp: Callable,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _fit(blobs_source, make_mlp, replace(CFG, progress=False), start=True)
    assert capsys.readouterr().err == ""


def test_the_competing_start_is_the_first_line(blobs_source: DataSource, make_mlp: Callable,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _fit(blobs_source, make_mlp, start=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("epoch 0/3  val_loss ") and lines[0].endswith("(start)")
    assert len(lines) == 4 and all(LINE.match(line) for line in lines[1:])


def test_a_terminal_gets_the_bar_not_lines() -> None:
    stream = _Terminal()
    with EpochProgress(2, 3, stream=stream) as bar:
        assert bar._progress is not None  # the live rich bar
        for epoch in range(2):
            for _ in range(3):
                bar.step(epoch, 0.5)
            bar.end_epoch(epoch, {"epoch": epoch + 1, "train_loss": 0.5, "val_accuracy": 0.9, "seconds": 1.0})
    assert "epoch 1/2  loss" not in stream.getvalue()


def test_a_plain_stream_gets_lines_and_a_resume_notice() -> None:
    stream = io.StringIO()
    with EpochProgress(4, 3, stream=stream, monitor="snd") as bar:
        bar.advance_to(2)
        bar.step(2, 0.5)
        bar.end_epoch(2, {"epoch": 3, "train_loss": 0.25, "train_accuracy": 0.5, "lr": 1e-3, "snd": 1.5,
                          "seconds": 12.43})
    assert stream.getvalue().splitlines() == ["resuming at epoch 3/4", "epoch 3/4  loss 0.250  snd 1.500  12.4 s"]


def test_disabled_progress_writes_nothing_anywhere() -> None:
    for stream in (io.StringIO(), _Terminal()):
        with EpochProgress(2, 3, enabled=False, stream=stream) as bar:
            bar.advance_to(1)
            bar.step(1, 0.5)
            bar.end_epoch(1, {"epoch": 2, "train_loss": 0.5, "seconds": 1.0})
        assert stream.getvalue() == ""


def test_epoch_line_keeps_nan_tiny_and_large_values_readable() -> None:
    row = {"epoch": 1, "train_loss": float("nan"), "val_loss": 12345.0, "im": 0.000128, "seconds": 0.04}
    assert epoch_line(row, 2, monitor="im") == "epoch 1/2  loss nan  val_loss 1.23e+04  im 0.000128  0.0 s"


def test_distributed_ranks_other_than_zero_print_nothing(blobs_source: DataSource, make_mlp: Callable,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from lightning_fabric import Fabric

    monkeypatch.setattr(Fabric, "is_global_zero", property(lambda self: False))
    _fit(blobs_source, make_mlp)
    assert capsys.readouterr().err == ""


def test_the_bar_reads_a_steps_loss_only_when_it_redraws() -> None:
    class Loss:  # a GPU tensor: reading its value waits for the step
        reads = 0

        def __float__(self) -> float:
            Loss.reads += 1
            return 0.5

    with EpochProgress(1, 50, stream=_Terminal()) as bar:
        for _ in range(50):
            bar.step(0, Loss())  # type: ignore[arg-type]
        assert bar._progress is not None and bar._progress.tasks[0].completed == 50  # every step counted
    assert 1 <= Loss.reads < 5  # shown at most every REDRAW_SECONDS
