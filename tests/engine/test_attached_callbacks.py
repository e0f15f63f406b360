"""Callbacks attached from outside a run (graft tune's per-epoch reports) see each validated epoch."""

from __future__ import annotations

from pathlib import Path

import pytest

import graft
from graft.engine.trainer import attached_callbacks


class Recorder:
    def __init__(self, stop_at: int | None = None) -> None:
        self.seen: list[tuple[int, str, float]] = []
        self.stop_at = stop_at

    def on_validation_end(self, epoch: int, row: dict[str, float], monitor: str) -> None:
        self.seen.append((epoch, monitor, row[monitor]))
        if epoch == self.stop_at:
            raise KeyError("stop")  # any exception ends the run, as a pruned trial does


def test_an_attached_callback_sees_each_validated_epoch(tmp_path: Path, blobs_source) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    with attached_callbacks(recorder):
        run = graft.fit("builtin:mlp", blobs_source, "scratch", out=tmp_path / "run", epochs=3, progress=False,
                        val_fraction=0.3)
    assert [(e, m) for e, m, _ in recorder.seen] == [(1, "val_accuracy"), (2, "val_accuracy"), (3, "val_accuracy")]
    assert [v for *_, v in recorder.seen] == [row["val_accuracy"] for row in run.history if row["epoch"] > 0]
    graft.fit("builtin:mlp", blobs_source, "scratch", out=tmp_path / "after", epochs=2, progress=False)
    assert len(recorder.seen) == 3  # detached once the block ends


def test_an_exception_from_an_attached_callback_ends_the_run(tmp_path: Path, blobs_source) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder(stop_at=2)
    with attached_callbacks(recorder), pytest.raises(KeyError, match="stop"):
        graft.fit("builtin:mlp", blobs_source, "scratch", out=tmp_path / "run", epochs=5, progress=False,
                  val_fraction=0.3)
    assert [e for e, *_ in recorder.seen] == [1, 2]
    assert not (tmp_path / "run" / "metrics.json").exists()
