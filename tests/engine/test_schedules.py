"""Learning-rate schedules: values at start, middle and end, warm-up, and reduce-on-plateau."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from graft.engine.schedules import SCHEDULES, PlateauState, lr_factor
from graft.errors import ConfigError

TOTAL = 100


@pytest.mark.parametrize(
    ("schedule", "kwargs", "start", "middle", "end"),
    [
        ("constant", {}, 1.0, 1.0, 1.0),
        ("plateau", {}, 1.0, 1.0, 1.0),
        ("cosine", {}, 1.0, 0.5, 0.0),
        ("cosine", {"min_factor": 0.1}, 1.0, 0.55, 0.1),
        ("linear", {}, 1.0, 0.5, 0.0),
        ("linear", {"min_factor": 0.2}, 1.0, 0.6, 0.2),
        ("poly", {"power": 2.0}, 1.0, 0.25, 0.0),
        ("poly", {"power": 1.0, "min_factor": 0.5}, 1.0, 0.75, 0.5),
        ("exp", {"gamma": 0.01}, 1.0, 0.1, 0.01),
        ("step", {"gamma": 0.5, "step_every": 50}, 1.0, 0.5, 0.25),
        ("inv", {"inv_gamma": 0.01, "inv_power": 1.0}, 1.0, 1 / 1.5, 0.5),
    ],
)
def test_factor_at_start_middle_end(schedule: str, kwargs: dict, start: float, middle: float, end: float) -> None:
    assert lr_factor(0, TOTAL, schedule=schedule, **kwargs) == pytest.approx(start)
    assert lr_factor(TOTAL // 2, TOTAL, schedule=schedule, **kwargs) == pytest.approx(middle)
    assert lr_factor(TOTAL, TOTAL, schedule=schedule, **kwargs) == pytest.approx(end)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_warmup_is_linear_then_the_schedule_starts_from_one(schedule: str) -> None:
    warmup = 10
    ramp = [lr_factor(s, TOTAL + warmup, schedule=schedule, warmup_steps=warmup) for s in range(warmup)]
    assert ramp == pytest.approx([(s + 1) / warmup for s in range(warmup)])
    # The decay runs over the steps after warm-up: its start is full, its middle is the
    # middle of the post-warm-up span.
    assert lr_factor(warmup, TOTAL + warmup, schedule=schedule, warmup_steps=warmup) == pytest.approx(1.0)
    mid = lr_factor(warmup + TOTAL // 2, TOTAL + warmup, schedule=schedule, warmup_steps=warmup)
    assert mid == pytest.approx(lr_factor(TOTAL // 2, TOTAL, schedule=schedule))


def test_docstring_example() -> None:
    assert lr_factor(0, 100, schedule="cosine", warmup_steps=10) == pytest.approx(0.1)


@pytest.mark.parametrize("schedule", ["cosine", "linear", "poly", "exp", "step", "inv"])
def test_decaying_schedules_never_increase_and_stay_in_range(schedule: str) -> None:
    values = [lr_factor(s, TOTAL, schedule=schedule, step_every=7, min_factor=0.05) for s in range(TOTAL + 1)]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(values))
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values[-1] < values[0]


def test_steps_beyond_the_end_stay_at_the_floor() -> None:
    assert lr_factor(TOTAL * 3, TOTAL, schedule="cosine", min_factor=0.1) == pytest.approx(0.1)
    assert lr_factor(TOTAL * 3, TOTAL, schedule="linear") == pytest.approx(0.0)


def test_cosine_matches_the_closed_form() -> None:
    for s in (0, 13, 37, 71, 99):
        expected = 0.5 * (1 + math.cos(math.pi * s / TOTAL))
        assert lr_factor(s, TOTAL, schedule="cosine") == pytest.approx(expected)


def test_step_decays_every_step_every_steps() -> None:
    got = [lr_factor(s, TOTAL, schedule="step", gamma=0.1, step_every=10) for s in (0, 9, 10, 19, 20, 35)]
    assert got == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.001])


def test_unknown_schedule_is_a_config_error_listing_the_allowed() -> None:
    with pytest.raises(ConfigError, match="Unknown learning-rate schedule 'cosin'") as err:
        lr_factor(0, 10, schedule="cosin")
    assert all(name in str(err.value) for name in SCHEDULES)


def test_plateau_reduces_after_patience_bad_epochs() -> None:
    state = PlateauState(mode="max", factor=0.1, patience=2)
    scales = []
    for value in (0.5, 0.6, 0.6, 0.55, 0.6, 0.6, 0.59, 0.7):
        state.update(value)
        scales.append(state.scale)
    # 0.6 is the best from the 2nd epoch; the 3rd bad epoch in a row (> patience) reduces.
    assert scales == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1])
    assert state.best == 0.7 and state.bad_epochs == 0


def test_plateau_min_mode_improves_on_lower_values() -> None:
    state = PlateauState(mode="min", factor=0.5, patience=0)
    state.update(1.0)
    state.update(0.9)
    assert state.scale == 1.0
    state.update(0.95)
    assert state.scale == 0.5
    state.update(0.95)
    assert state.scale == 0.25


@pytest.mark.parametrize("mode", ["max", "min"])
def test_plateau_matches_torch_reduce_on_plateau(mode: str) -> None:
    values = [0.3, 0.5, 0.5, 0.4, 0.45, 0.6, 0.6, 0.6, 0.2, 0.61, 0.61, 0.61, 0.61, 0.61]
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=1, threshold=0.0)
    state = PlateauState(mode=mode, factor=0.5, patience=1)
    for v in values:
        ref.step(v)
        state.update(v)
        assert state.scale == pytest.approx(opt.param_groups[0]["lr"])
