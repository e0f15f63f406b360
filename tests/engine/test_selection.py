"""Epoch selection: the starting weights are replaced only by a gain larger than validation noise."""

from __future__ import annotations

import pytest
import torch

from graft.engine.config import TrainConfig
from graft.engine.selection import EpochSelector
from graft.errors import ConfigError

N = 100


def _correct(n_right: int, flips: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """A start that gets the first ``n_right`` of N right; ``flips`` = (fixed, broken) by an epoch."""
    v = torch.zeros(N)
    v[:n_right] = 1
    fixed, broken = flips
    v[n_right:n_right + fixed] = 1
    v[:broken] = 0
    return v


def _state(tag: float) -> dict[str, torch.Tensor]:
    return {"w": torch.tensor([tag])}


def test_an_epoch_that_fixes_many_and_breaks_none_replaces_the_start() -> None:
    sel = EpochSelector(mode="max", margin_se=1.0)
    start = _correct(80)
    sel.offer_start(0.80, _state(0), start)
    epoch = _correct(80, flips=(10, 0))
    assert sel.offer(1, float(epoch.mean()), lambda: _state(1), epoch)
    assert sel.chosen().epoch == 1 and sel.chosen().state["w"].item() == 1


def test_a_gain_of_one_example_within_noise_keeps_the_start() -> None:
    sel = EpochSelector(mode="max", margin_se=1.0)
    start = _correct(80)
    sel.offer_start(0.80, _state(0), start)
    epoch = _correct(80, flips=(6, 5))  # +1 example, 11 disagreements
    assert sel.offer(3, float(epoch.mean()), lambda: _state(3), epoch)  # still an improvement for patience
    assert sel.chosen().epoch == 0 and sel.chosen().state["w"].item() == 0


def test_margin_zero_keeps_any_gain() -> None:
    sel = EpochSelector(mode="max", margin_se=0.0)
    start = _correct(80)
    sel.offer_start(0.80, _state(0), start)
    epoch = _correct(80, flips=(6, 5))
    sel.offer(2, float(epoch.mean()), lambda: _state(2), epoch)
    assert sel.chosen().epoch == 2


def test_loss_mode_compares_per_example_losses_the_right_way_round() -> None:
    sel = EpochSelector(mode="min", margin_se=1.0)
    start = torch.full((N,), 1.0) + 0.01 * torch.randn(N, generator=torch.Generator().manual_seed(0))
    sel.offer_start(float(start.mean()), _state(0), start)
    better = start - 0.5
    sel.offer(1, float(better.mean()), lambda: _state(1), better)
    assert sel.chosen().epoch == 1
    worse = EpochSelector(mode="min", margin_se=1.0)
    worse.offer_start(float(start.mean()), _state(0), start)
    worse.offer(1, float((start + 0.5).mean()), lambda: _state(1), start + 0.5)
    assert worse.chosen().epoch == 0


def test_without_a_start_the_best_epoch_wins_and_states_are_copied_lazily() -> None:
    sel = EpochSelector(mode="max")
    copies = []

    def copy(tag: float):
        copies.append(tag)
        return _state(tag)

    for epoch, value in [(1, 0.5), (2, 0.7), (3, 0.6)]:
        sel.offer(epoch, value, lambda e=epoch: copy(e), None)
    assert sel.chosen().epoch == 2 and copies == [1, 2]


def test_a_later_epoch_that_clears_the_noise_replaces_an_earlier_one_that_did_not() -> None:
    sel = EpochSelector(mode="max", margin_se=1.0)
    start = _correct(80)
    sel.offer_start(0.80, _state(0), start)
    small, big = _correct(80, flips=(3, 2)), _correct(80, flips=(12, 1))
    sel.offer(1, float(small.mean()), lambda: _state(1), small)
    assert sel.chosen().epoch == 0
    sel.offer(2, float(big.mean()), lambda: _state(2), big)
    assert sel.chosen().epoch == 2


def test_state_round_trips_through_plain_containers() -> None:
    sel = EpochSelector(mode="max", margin_se=1.0)
    start = _correct(80)
    sel.offer_start(0.80, _state(0), start)
    sel.offer(1, 0.81, lambda: _state(1), _correct(80, flips=(2, 1)))
    state = sel.state_dict()
    assert all(isinstance(v, (dict, torch.Tensor, type(None))) for v in state.values())
    other = EpochSelector(mode="max", margin_se=1.0)
    other.load_state_dict(state)
    assert other.chosen().epoch == sel.chosen().epoch == 0
    assert other.leader_value == pytest.approx(0.81)


def test_a_negative_margin_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="start-margin-se.*>= 0"):
        TrainConfig(start_margin_se=-1).validate()


def test_accuracy_ties_are_broken_by_the_validation_loss() -> None:
    selector = EpochSelector(mode="max")
    states = {e: {"w": torch.tensor([float(e)])} for e in range(1, 5)}
    assert selector.offer(1, 0.9, lambda: states[1], None, tie=0.50)
    assert selector.offer(2, 1.0, lambda: states[2], None, tie=0.40)
    assert selector.offer(3, 1.0, lambda: states[3], None, tie=0.20)  # same accuracy, lower loss: improves
    assert not selector.offer(4, 1.0, lambda: states[4], None, tie=0.30)
    chosen = selector.chosen()
    assert chosen is not None and chosen.epoch == 3
    again = EpochSelector(mode="max")
    again.load_state_dict(selector.state_dict())
    assert again.best is not None and again.best.tie == 0.20


def test_a_tie_with_the_start_keeps_the_start() -> None:
    selector = EpochSelector(mode="max", margin_se=1.0)
    selector.offer_start(1.0, {"w": torch.tensor([0.0])}, torch.ones(10), tie=0.5)
    selector.offer(1, 1.0, lambda: {"w": torch.tensor([1.0])}, torch.ones(10), tie=0.1)
    chosen = selector.chosen()
    assert chosen is not None and chosen.epoch == 0  # no accuracy gained beyond noise


def _losses(level: float, seed: int) -> torch.Tensor:
    return level + 0.05 * torch.rand(N, generator=torch.Generator().manual_seed(seed))


def test_with_loss_clears_a_one_example_gain_whose_loss_halves_replaces_the_start() -> None:
    start, epoch = _correct(97), _correct(97, flips=(1, 0))  # +1 example: inside the accuracy noise
    for loss_clears, chosen in ((False, 0), (True, 1)):
        sel = EpochSelector(mode="max", margin_se=1.0, loss_clears=loss_clears)
        sel.offer_start(0.97, _state(0), start, tie=0.7, losses=_losses(0.7, 0))
        sel.offer(1, 0.98, lambda: _state(1), epoch, tie=0.3, losses=_losses(0.3, 1))
        assert sel.chosen().epoch == chosen
        # the start's losses survive a checkpoint, so a resumed run judges later epochs alike
        other = EpochSelector(mode="max", margin_se=1.0, loss_clears=loss_clears)
        other.load_state_dict(sel.state_dict())
        assert other.start_losses is not None and torch.equal(other.start_losses, sel.start_losses)


def test_a_lower_loss_never_clears_the_start_for_an_epoch_with_lower_accuracy() -> None:
    sel = EpochSelector(mode="max", margin_se=1.0, loss_clears=True)
    sel.offer_start(0.97, _state(0), _correct(97), tie=0.7, losses=_losses(0.7, 0))
    sel.offer(1, 0.96, lambda: _state(1), _correct(97, flips=(0, 1)), tie=0.2, losses=_losses(0.2, 1))
    assert sel.chosen().epoch == 0
    # nor does a loss gain inside its noise
    sel = EpochSelector(mode="max", margin_se=1.0, loss_clears=True)
    noisy = torch.randn(N, generator=torch.Generator().manual_seed(2)).abs()
    sel.offer_start(0.97, _state(0), _correct(97), tie=float(noisy.mean()), losses=noisy)
    sel.offer(1, 0.98, lambda: _state(1), _correct(97, flips=(1, 0)), tie=float(noisy.mean()) - 0.01,
              losses=noisy.flip(0) - 0.01)
    assert sel.chosen().epoch == 0
