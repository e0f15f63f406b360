"""The training loop: learning, early stopping, schedules, resume, checkpoints and sharding."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from graft.data import DataSource, make_dataset, make_splits
from graft.engine import checkpoint as checkpoint_module
from graft.engine.checkpoint import save_checkpoint
from graft.engine.config import TrainConfig
from graft.engine.evaluate import evaluate
from graft.engine.param_groups import model_param_groups
from graft.engine.schedules import lr_factor
from graft.engine.trainer import FitResult, SeededSampler, Trainer
from graft.errors import CheckpointError, ConfigError
from graft.models import GraftModel
from graft.strategies.base import supervised_step

CFG = TrainConfig(epochs=6, batch_size=16, lr=1e-2, warmup_epochs=1.0, progress=False, checkpoint_every=0)


@dataclass
class Task:
    source: DataSource
    train: Dataset
    val: Dataset
    make_model: Callable[..., GraftModel]

    def fit(self, config: TrainConfig = CFG, *, model: GraftModel | None = None, run_dir: Path | None = None,
            resume: bool = False, callbacks: tuple = (), metrics: tuple = (), val: Any = "same",
            seed: int = 1) -> tuple[GraftModel, FitResult]:
        model = model if model is not None else self.make_model(self.source)
        trainer = Trainer(config, seed=seed, run_dir=run_dir, callbacks=callbacks, metrics=metrics)
        groups = model_param_groups(model, weight_decay=config.weight_decay)
        result = trainer.fit(model, groups, supervised_step, self.train,
                             self.val if val == "same" else val, resume=resume)
        return model.cpu(), result  # where it trained (a GPU when one is visible): compared on the CPU


@pytest.fixture
def task(make_source: Callable[..., DataSource], make_mlp: Callable[..., GraftModel]) -> Task:
    source = make_source(n_per_class=30, noise=1.5)
    splits = make_splits(source, test_fraction=0.2, val_fraction=0.25)
    spec = make_mlp(source).spec.input
    return Task(source, make_dataset(source, splits.train, spec), make_dataset(source, splits.val, spec), make_mlp)


def _same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


def _without_time(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


class _Snapshots:
    """A callback that records the weights at the start of every epoch, i.e. the
    weights after ``k`` epochs are ``states[k]``; the last epoch's come from the checkpoint."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def on_epoch_start(self, epoch: int, module: nn.Module) -> None:
        assert epoch == len(self.states)
        self.states.append({k: v.detach().clone() for k, v in module.state_dict().items()})

    def after(self, epochs: int, run_dir: Path) -> dict[str, torch.Tensor]:
        """Weights after ``epochs`` epochs (1-based)."""
        if epochs < len(self.states):
            return self.states[epochs]
        saved = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
        assert saved["epoch"] == epochs
        return saved["module"]


class _InterruptAt:
    """A callback that stops the run like Ctrl-C at the start of ``epoch`` (0-based)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_start(self, epoch: int, module: nn.Module) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_loss_falls_on_an_easy_problem(task: Task) -> None:
    _, result = task.fit(replace(CFG, epochs=10))
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == 10 == result.epochs_run
    assert losses[-1] < 0.5 * losses[0]
    assert result.history[-1]["val_accuracy"] >= 0.9
    assert result.selected_by == "val"
    assert all(row["epoch"] == i + 1 for i, row in enumerate(result.history))


def test_early_stopping_stops_and_restores_the_best_epoch(task: Task, tmp_path: Path) -> None:
    snaps = _Snapshots()
    config = replace(CFG, epochs=40, patience=2, schedule="constant", warmup_epochs=0.0)
    model, result = task.fit(config, callbacks=(snaps,), run_dir=tmp_path)
    assert result.epochs_run < 40, "the run never stopped early"
    assert result.best_epoch == result.epochs_run - 2
    best_acc = max(row["val_accuracy"] for row in result.history)
    assert result.best_value == best_acc == result.history[result.best_epoch - 1]["val_accuracy"]
    # The model holds the best epoch's weights, not the last epoch's.
    assert _same_state(model.state_dict(), snaps.after(result.best_epoch, tmp_path))
    assert not _same_state(model.state_dict(), snaps.after(result.epochs_run, tmp_path))
    recomputed = evaluate(model, task.val, 32, "cpu")
    assert recomputed["accuracy"] == pytest.approx(best_acc)
    assert recomputed["loss"] == pytest.approx(result.history[result.best_epoch - 1]["val_loss"], rel=1e-5)


def test_monitoring_a_loss_selects_its_minimum(task: Task, tmp_path: Path) -> None:
    snaps = _Snapshots()
    config = replace(CFG, epochs=8, monitor="val_loss", lr=0.3, optimizer="sgd", schedule="constant")
    model, result = task.fit(config, callbacks=(snaps,), run_dir=tmp_path)
    losses = [row["val_loss"] for row in result.history]
    assert result.best_value == min(losses)
    assert result.best_epoch == losses.index(min(losses)) + 1
    assert _same_state(model.state_dict(), snaps.after(result.best_epoch, tmp_path))


def test_without_validation_the_last_epoch_is_kept(task: Task, tmp_path: Path) -> None:
    snaps = _Snapshots()
    model, result = task.fit(replace(CFG, epochs=3, patience=1), val=None, callbacks=(snaps,), run_dir=tmp_path)
    assert result.selected_by == "last"
    assert result.best_epoch == result.epochs_run == 3  # patience needs something to monitor
    assert _same_state(model.state_dict(), snaps.after(3, tmp_path))
    assert "val_accuracy" not in result.history[-1]


def test_history_lr_follows_the_schedule(task: Task) -> None:
    config = replace(CFG, epochs=5, schedule="cosine", warmup_epochs=1.0, min_lr_ratio=0.1)
    _, result = task.fit(config)
    steps = -(-len(task.train) // config.batch_size)
    total = steps * config.epochs
    for row in result.history:
        last_step = int(row["epoch"]) * steps - 1
        expected = lr_factor(last_step, total, schedule="cosine", warmup_steps=steps, min_factor=0.1)
        assert row["lr"] == pytest.approx(config.lr * expected)


def test_a_group_with_lr_scale_zero_does_not_move(task: Task) -> None:
    model = task.make_model(task.source)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    groups = model_param_groups(model, weight_decay=0.01)
    stem = {id(p) for _, p in model.layer_groups()[0]}
    for g in groups:
        if any(id(p) in stem for p in g["params"]):
            g["lr_scale"] = 0.0
    Trainer(replace(CFG, epochs=2), seed=0).fit(model, groups, supervised_step, task.train, task.val)
    for name, p in model.named_parameters():
        moved = not torch.equal(before[name], p.detach().cpu())
        assert moved == (id(p) not in stem), name


def test_plateau_schedule_reduces_the_lr_when_the_monitor_stalls(task: Task) -> None:
    def flat(module: nn.Module, *unused: object) -> dict[str, float]:
        return {"flat": 0.5}

    config = replace(CFG, epochs=6, schedule="plateau", warmup_epochs=0.0, monitor="flat",
                     plateau_patience=1, gamma=0.5)
    _, result = task.fit(config, metrics=(flat,))
    # Epoch 1 sets the best; epochs 2 and 3 are bad (> patience 1) → halve from epoch 4 on.
    assert [row["lr"] for row in result.history] == pytest.approx([1e-2, 1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3])


def test_of_equally_validated_epochs_the_later_is_kept_when_asked(task: Task) -> None:
    def flat(module: nn.Module, *unused: object) -> dict[str, float]:
        return {"flat": 0.5}

    config = replace(CFG, epochs=3, monitor="flat")
    _, earliest = task.fit(config, metrics=(flat,), val=None)
    assert earliest.best_epoch == 1  # no validation loss to break the tie: the least trained epoch
    model = task.make_model(task.source)
    trainer = Trainer(config, seed=1, metrics=(flat,), later_wins_ties=True)
    later = trainer.fit(model, model_param_groups(model, weight_decay=0.0), supervised_step, task.train, None)
    assert later.best_epoch == 3


def test_unknown_monitor_names_the_available_metrics(task: Task) -> None:
    with pytest.raises(ConfigError, match="'val_acc' was not computed.*val_accuracy.*Fix:"):
        task.fit(replace(CFG, epochs=1, monitor="val_acc"))


def test_a_non_finite_loss_stops_with_a_fix(task: Task) -> None:
    model = task.make_model(task.source)

    def nan_step(module: nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {"loss": module(batch["x"]).sum() * float("nan")}

    trainer = Trainer(replace(CFG, epochs=1), seed=0)
    with pytest.raises(FloatingPointError, match="--lr"):
        trainer.fit(model, model_param_groups(model, weight_decay=0.0), nan_step, task.train, task.val)


def test_same_seed_same_result_other_seed_other_order(task: Task) -> None:
    a, ra = task.fit(replace(CFG, epochs=2), seed=3)
    b, rb = task.fit(replace(CFG, epochs=2), seed=3)
    c, _ = task.fit(replace(CFG, epochs=2), seed=4)
    assert _same_state(a.state_dict(), b.state_dict())
    assert _without_time(ra.history) == _without_time(rb.history)
    assert not _same_state(a.state_dict(), c.state_dict())


# --- checkpoints and resume ---------------------------------------------------------


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_resume_after_an_interruption_equals_the_uninterrupted_run(task: Task, tmp_path: Path,
                                                                   ema_decay: float | None) -> None:
    """The checkpoint stores the step counter, not the schedule's length: the schedule is
    recomputed from the config, so resuming the same command continues exactly (the weight
    average too)."""
    config = replace(CFG, epochs=6, schedule="cosine", warmup_epochs=1.0, min_lr_ratio=0.05, ema_decay=ema_decay)
    full, full_result = task.fit(config, run_dir=tmp_path / "full")

    with pytest.raises(KeyboardInterrupt):
        task.fit(config, run_dir=tmp_path / "cut", callbacks=(_InterruptAt(3),))
    saved = torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["epoch"] == 3 and len(saved["history"]) == 3

    # A fresh process: a model with other initial weights is overwritten by the checkpoint.
    fresh = task.make_model(task.source, seed=99)
    resumed, resumed_result = task.fit(config, model=fresh, run_dir=tmp_path / "cut", resume=True)
    assert _same_state(resumed.state_dict(), full.state_dict())
    assert _without_time(resumed_result.history) == _without_time(full_result.history)
    assert (resumed_result.best_epoch, resumed_result.best_value, resumed_result.epochs_run) == (
        full_result.best_epoch, full_result.best_value, full_result.epochs_run)


def test_the_weight_average_is_what_validates_and_is_kept(task: Task) -> None:
    from graft.engine.ema import WeightAverage

    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    average = WeightAverage(layer, decay=0.5)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    average.update()  # warm-up: decay min(0.5, 2 / 11) = 0.18, so the average moves 0.82 of the way
    with average.swapped_in():
        assert torch.allclose(layer.weight, torch.full_like(layer.weight, 9 / 11))
    assert torch.equal(layer.weight, torch.ones_like(layer.weight))  # the live weights are back

    plain, plain_result = task.fit(replace(CFG, epochs=4), val=None)
    averaged, result = task.fit(replace(CFG, epochs=4, ema_decay=0.9), val=None)
    assert _without_time(result.history) == _without_time(plain_result.history)  # training is the same
    assert not _same_state(averaged.state_dict(), plain.state_dict())  # but the saved model is the average
    _, validated = task.fit(replace(CFG, epochs=4, ema_decay=0.9))
    _, raw = task.fit(replace(CFG, epochs=4))
    assert [r["val_loss"] for r in validated.history] != [r["val_loss"] for r in raw.history]


def test_resume_keeps_early_stopping_state(task: Task, tmp_path: Path) -> None:
    config = replace(CFG, epochs=40, patience=2, schedule="constant", warmup_epochs=0.0)
    full, full_result = task.fit(config, run_dir=tmp_path / "full")
    stop_at = full_result.epochs_run - 1  # interrupt during the bad epochs before the stop
    with pytest.raises(KeyboardInterrupt):
        task.fit(config, run_dir=tmp_path / "cut", callbacks=(_InterruptAt(stop_at),))
    resumed, result = task.fit(config, run_dir=tmp_path / "cut", resume=True)
    assert result.epochs_run == full_result.epochs_run
    assert result.best_epoch == full_result.best_epoch
    assert _same_state(resumed.state_dict(), full.state_dict())


def test_extending_a_constant_schedule_by_resume_equals_one_long_run(task: Task, tmp_path: Path) -> None:
    """With a constant LR the schedule does not depend on the run's length, so
    ``epochs=k`` then ``--resume`` with ``epochs=N`` is the same as ``epochs=N``."""
    long = replace(CFG, epochs=5, schedule="constant", warmup_epochs=0.0)
    full, full_result = task.fit(long)
    task.fit(replace(long, epochs=2), run_dir=tmp_path)
    resumed, result = task.fit(long, run_dir=tmp_path, resume=True)
    assert _same_state(resumed.state_dict(), full.state_dict())
    assert _without_time(result.history) == _without_time(full_result.history)


def test_resume_without_a_checkpoint_says_how_to_fix_it(task: Task, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as err:
        task.fit(run_dir=tmp_path, resume=True)
    msg = str(err.value)
    assert "--resume" in msg and str(tmp_path / "checkpoints" / "last.ckpt") in msg and "Fix:" in msg
    with pytest.raises(CheckpointError, match="no run directory"):
        task.fit(run_dir=None, resume=True)


def test_resume_from_another_architecture_is_a_checkpoint_error(task: Task, tmp_path: Path) -> None:
    task.fit(replace(CFG, epochs=1), run_dir=tmp_path)
    other = task.make_model(task.source, hidden=(8,))
    with pytest.raises(CheckpointError, match="does not match this model") as err:
        task.fit(replace(CFG, epochs=2), model=other, run_dir=tmp_path, resume=True)
    assert "Fix:" in str(err.value) and "\n" not in str(err.value)


def test_resume_with_another_optimizer_is_a_checkpoint_error(task: Task, tmp_path: Path) -> None:
    task.fit(replace(CFG, epochs=1, optimizer="sgd"), run_dir=tmp_path)
    with pytest.raises(CheckpointError, match="written with --optimizer sgd; this run has --optimizer adamw") as err:
        task.fit(replace(CFG, epochs=2, optimizer="adamw"), run_dir=tmp_path, resume=True)
    assert "Fix:" in str(err.value) and "\n" not in str(err.value)


def test_a_truncated_checkpoint_is_a_checkpoint_error(task: Task, tmp_path: Path) -> None:
    task.fit(replace(CFG, epochs=1), run_dir=tmp_path)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="Cannot read the checkpoint"):
        task.fit(replace(CFG, epochs=2), run_dir=tmp_path, resume=True)


def test_checkpoints_are_written_atomically(
    task: Task, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, assert_no_temp_files: Callable[[Path], None]
) -> None:
    model, _ = task.fit(replace(CFG, epochs=2), run_dir=tmp_path)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["last.ckpt"]
    good = ckpt.read_bytes()

    real_save = torch.save

    def crash_midway(obj: Any, path: Any) -> None:
        real_save(obj, path)
        Path(path).write_bytes(Path(path).read_bytes()[:50])  # half-written, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", crash_midway)
    trainer = Trainer(CFG, run_dir=tmp_path)
    opt = torch.optim.AdamW(model.parameters())
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(trainer.fabric, ckpt, model, opt, {"epoch": 99})
    monkeypatch.undo()
    assert ckpt.read_bytes() == good
    assert_no_temp_files(tmp_path)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2


def test_epoch_metrics_reach_the_csv_log(task: Task, tmp_path: Path) -> None:
    task.fit(replace(CFG, epochs=3), run_dir=tmp_path)
    logs = list((tmp_path / "logs" / "csv").rglob("metrics.csv"))
    assert logs, "logs/csv has no metrics.csv"
    assert len(logs[0].read_text().strip().splitlines()) == 1 + 3


# --- SeededSampler ---------------------------------------------------------------------


def test_sampler_is_deterministic_per_seed_epoch_and_pass() -> None:
    first = list(SeededSampler(20, 1, 0, seed=5, epoch=2))
    assert first == list(SeededSampler(20, 1, 0, seed=5, epoch=2))
    assert sorted(first) == list(range(20))
    assert first != list(SeededSampler(20, 1, 0, seed=5, epoch=3))
    assert first != list(SeededSampler(20, 1, 0, seed=6, epoch=2))
    sampler = SeededSampler(20, 1, 0, seed=5, epoch=2)
    passes = [list(sampler), list(sampler)]
    assert passes[0] == first and passes[1] != first and sorted(passes[1]) == list(range(20))


@pytest.mark.parametrize("n", [10, 11, 1])
def test_sampler_shards_two_ranks_disjoint_and_covering(n: int) -> None:
    ranks = [list(SeededSampler(n, 2, r, seed=0, epoch=0)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == len(SeededSampler(n, 2, 0, 0, 0)) == -(-n // 2)
    assert set(ranks[0]) | set(ranks[1]) == set(range(n))
    if n % 2 == 0:
        assert not set(ranks[0]) & set(ranks[1])
    else:  # one example is repeated to even out the shards
        assert len(ranks[0]) + len(ranks[1]) - len(set(ranks[0]) | set(ranks[1])) == 1
    # Both ranks agree on the permutation they shard.
    merged = [i for pair in zip(*ranks) for i in pair]
    assert merged[:n] == list(SeededSampler(n, 1, 0, seed=0, epoch=0))


def _fit_from_start(task: Task, margin: float, run_dir: Path | None = None, resume: bool = False,
                    epochs: int = 6) -> tuple[GraftModel, FitResult, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    model = task.make_model(task.source)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    config = replace(CFG, start_margin_se=margin, epochs=epochs)
    trainer = Trainer(config, seed=1, run_dir=run_dir, start_is_candidate=True)
    result = trainer.fit(model, model_param_groups(model, weight_decay=0.0), supervised_step, task.train, task.val, resume=resume)
    return model, result, start


def test_a_start_that_competes_loses_to_a_clear_gain(task: Task) -> None:
    model, result, start = _fit_from_start(task, margin=1.0)
    assert result.start_metrics["val_accuracy"] < 0.6  # a random start
    assert result.best_epoch >= 1 and result.best_value > result.start_metrics["val_accuracy"] + 0.2
    assert not _same_state(model.state_dict(), start)


def test_a_start_is_kept_when_no_gain_clears_the_margin(task: Task, tmp_path: Path) -> None:
    model, result, start = _fit_from_start(task, margin=1e6, run_dir=tmp_path)
    assert max(r["val_accuracy"] for r in result.history) > result.start_metrics["val_accuracy"]
    assert result.best_epoch == 0 and result.best_value == result.start_metrics["val_accuracy"]
    assert _same_state(model.state_dict(), start)
    # the choice survives an interruption: resume two more epochs from the checkpoint
    _, resumed, _ = _fit_from_start(task, margin=1e6, run_dir=tmp_path, resume=True, epochs=8)
    assert resumed.best_epoch == 0 and resumed.epochs_run == 8


def test_a_competing_start_is_the_first_row_of_the_history(task: Task, tmp_path: Path) -> None:
    _, result, _ = _fit_from_start(task, margin=1e6, run_dir=tmp_path, epochs=3)
    assert [row["epoch"] for row in result.history] == [0, 1, 2, 3]
    start = result.history[0]
    assert start["val_accuracy"] == result.start_metrics["val_accuracy"] and "val_loss" in start
    assert "train_loss" not in start and "lr" not in start  # nothing was trained yet
    assert 0 <= start["seconds"] <= result.history[1]["seconds"]
    assert result.epochs_run == 3  # trained epochs, not rows
    _, resumed, _ = _fit_from_start(task, margin=1e6, run_dir=tmp_path, resume=True, epochs=5)
    assert [row["epoch"] for row in resumed.history] == [0, 1, 2, 3, 4, 5]  # one epoch-0 row, from the checkpoint
    assert resumed.history[0] == start and resumed.epochs_run == 5


def test_without_a_competing_start_the_history_begins_at_epoch_1(task: Task) -> None:
    _, result = task.fit(replace(CFG, epochs=2))
    assert [row["epoch"] for row in result.history] == [1, 2] and result.epochs_run == 2
    assert result.start_metrics == {}


def test_an_epoch_covers_the_larger_of_the_labeled_and_unlabeled_streams(task: Task) -> None:
    model = task.make_model(task.source)
    seen = {"steps": 0, "target": 0}

    def step(module: nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        seen["steps"] += 1
        seen["target"] += len(batch["x_t"])
        return supervised_step(module, batch)

    big_target = torch.utils.data.ConcatDataset([task.train] * 3)
    config = replace(CFG, epochs=1)
    Trainer(config).fit(model, model_param_groups(model, weight_decay=0.0), step, task.train, None, big_target)
    assert seen["steps"] == math.ceil(len(big_target) / config.batch_size)
    assert seen["target"] >= len(big_target)


def test_resuming_with_another_schedule_length_warns_what_changed(task: Task, tmp_path: Path) -> None:
    task.fit(replace(CFG, epochs=2), run_dir=tmp_path)
    with pytest.warns(UserWarning, match=r"different schedule.*epochs 2 → 4"):
        task.fit(replace(CFG, epochs=4), run_dir=tmp_path, resume=True)


def test_an_unknown_monitor_stops_before_training_when_the_start_is_scored(task: Task) -> None:
    model = task.make_model(task.source)
    steps = []

    def step(module: nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        steps.append(1)
        return supervised_step(module, batch)

    trainer = Trainer(replace(CFG, monitor="val_acc"), start_is_candidate=True)
    with pytest.raises(ConfigError, match="'val_acc' was not computed.*val_accuracy.*Fix:"):
        trainer.fit(model, model_param_groups(model, weight_decay=0.0), step, task.train, task.val)
    assert steps == []


class _ScriptedLabelFree:
    """A label-free metric whose score per call is scripted, with per-example terms: the start's
    terms are noise; epoch e's are the start's plus ``gains[e]`` plus fresh zero-mean noise of ``spread``."""

    def __init__(self, gains: list[float], spread: float, n: int = 400) -> None:
        g = torch.Generator().manual_seed(0)
        self.base = torch.randn(n, generator=g, dtype=torch.float64)
        noise = [torch.randn(n, generator=g, dtype=torch.float64) * spread for _ in gains]
        self.noise = [e - e.mean() for e in noise]  # the observed gain is exactly the scripted one
        self.gains, self.calls = gains, 0
        self.examples: dict[str, torch.Tensor] = {}

    def __call__(self, module: nn.Module) -> dict[str, float]:
        terms = self.base if self.calls == 0 else self.base + self.gains[self.calls - 1] + self.noise[self.calls - 1]
        self.calls += 1
        self.examples = {"score": terms}
        return {"score": float(terms.mean())}


@pytest.mark.parametrize(("gain", "spread", "kept"), [(0.05, 2.0, True), (0.5, 0.1, False)])
def test_a_metrics_per_example_terms_feed_the_start_margin(task: Task, gain: float, spread: float,
                                                           kept: bool) -> None:
    """A label-free monitor with per-example terms: a gain within its paired noise keeps the start
    (0.05 against a standard error of 2/√400 = 0.1), a gain of 0.5 at an error of 0.005 does not."""
    model = task.make_model(task.source)
    metric = _ScriptedLabelFree([gain, gain / 2], spread)
    trainer = Trainer(replace(CFG, epochs=2, monitor="score"), start_is_candidate=True, metrics=[metric])
    result = trainer.fit(model, model_param_groups(model, weight_decay=0.0), supervised_step, task.train, None)
    best_adapted = max(r["score"] for r in result.history[1:])
    assert best_adapted > result.history[0]["score"]  # the raw score did rise
    assert (result.best_epoch == 0) is kept


def test_under_mixed_precision_only_the_model_runs_in_bf16(task: Task) -> None:
    """A step sees float32 model outputs, and its own losses and extra parts run outside autocast,
    as if the model were called through Fabric; the batch reaches the step unconverted."""
    seen: dict[str, torch.dtype] = {}
    proj = torch.randn(task.make_model(task.source).spec.feature_dim, 4)

    def step(module: nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        logits, feats = module(batch["x"], return_features=True)
        seen.update(x=batch["x"].dtype, logits=logits.dtype, feats=feats.dtype,
                    matmul=(feats.detach() @ proj).dtype, model_linear=module.head(feats).dtype)
        return {"loss": nn.functional.cross_entropy(logits, batch["y"])}

    model = task.make_model(task.source)
    autocast_in_head: list[bool] = []
    model.head.register_forward_hook(lambda *_: autocast_in_head.append(torch.is_autocast_enabled("cpu")))
    config = replace(CFG, epochs=1, precision="bf16-mixed", accelerator="cpu")
    Trainer(config).fit(model, model_param_groups(model, weight_decay=0.0), step, task.train, None)
    assert seen == {"x": torch.float32, "logits": torch.float32, "feats": torch.float32, "matmul": torch.float32,
                    "model_linear": torch.float32}
    assert autocast_in_head[:2] == [True, False]  # through the model's forward; called apart by the step
