"""``--confirm-by``: a second label-free validator must confirm the pick, else the reference is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

import graft
from tests.strategies.test_adaptation import QUIET, shifted_pair, squares
from tests.strategies.test_da_reference import IMAGES, same_weights


def refuse_every_pick(monkeypatch: pytest.MonkeyPatch, name: str, seen: list[tuple[dict, dict]]) -> None:
    """``name``'s confirming validator refuses whatever the selection picked (and records what it saw)."""
    from graft.strategies.base import STRATEGIES

    def guard(self):  # type: ignore[no-untyped-def]
        confirm = self.confirming()
        return None if confirm is None else lambda picked, start: bool(seen.append((picked, start))) and False

    monkeypatch.setattr(STRATEGIES.get(name), "confirm_guard", guard)


def test_a_refused_pick_keeps_source_only_s_model_and_says_why(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[dict, dict]] = []
    refuse_every_pick(monkeypatch, "dann", seen)
    source, target = squares(64, seed=0), squares(64, seed=1)
    only = graft.fit("builtin:lenet", target, "source-only", source=source, out=tmp_path / "so", **IMAGES)
    run = graft.fit("builtin:lenet", target, "dann", source=source, out=tmp_path / "dann", **IMAGES)
    m = run.metrics
    assert len(seen) == 1  # asked once, at the end, about the epoch the validator picked
    picked, start = seen[0]
    assert picked["epoch"] == m["best_adapted_epoch"] > 0 and start["classami"] == run.history[0]["classami"]
    assert m["selected_epoch"] == 0 and m["confirm_vetoed"] is True and m["confirm_by"] == "classami"
    assert m["picked_classami"] == picked["classami"] and m["start_classami"] == run.history[0]["classami"]
    assert "(--confirm-by)" in m["selection_note"] and "the two validators disagree" in m["selection_note"]
    assert m["selection_note"].startswith("kept the source-only reference")
    assert same_weights(run, only) and m["test_accuracy"] == only.metrics["test_accuracy"]


def test_classami_is_scored_every_epoch_and_an_agreeing_pick_stands(tmp_path: Path) -> None:
    source, target = shifted_pair()
    run = graft.fit("builtin:mlp", target, "self-training", source=source, out=tmp_path / "st", **QUIET)
    m = run.metrics
    assert all("classami" in row for row in run.history)  # without --all-validators
    assert "dev" not in run.history[-1]  # the other costly validator is not
    assert m["selected_epoch"] > 0 and m["confirm_vetoed"] is False
    assert "classami (--confirm-by) agrees" in m["selection_note"]
    assert m["picked_classami"] > m["start_classami"] * 1.01


def test_the_margin_decides_against_the_reference_s_score(tmp_path: Path) -> None:
    # Only a pick whose ClassAMI rose by more than the margin stands: with the largest margin (100 %) and
    # with none, the same run's pick is judged by the same two scores.
    source, target = shifted_pair()
    strict = graft.fit("builtin:mlp", target, "dann", source=source, out=tmp_path / "strict", confirm_margin=1.0,
                       **QUIET).metrics
    loose = graft.fit("builtin:mlp", target, "dann", source=source, out=tmp_path / "loose", confirm_margin=0.0,
                      **QUIET).metrics
    assert strict["best_adapted_epoch"] == loose["best_adapted_epoch"] > 0
    start, picked = loose["start_classami"], loose["picked_classami"]
    assert strict["start_classami"] == start and strict["picked_classami"] == picked
    assert start < picked < 2 * start  # this run's pick: above the reference, by less than 100 %
    assert loose["confirm_vetoed"] is False and loose["selected_epoch"] == loose["best_adapted_epoch"]
    assert strict["confirm_vetoed"] is True and strict["selected_epoch"] == 0


def test_none_and_target_val_turn_it_off(tmp_path: Path) -> None:
    source, target = shifted_pair()
    off = graft.fit("builtin:mlp", target, "dann", source=source, out=tmp_path / "off", confirm_by="none", **QUIET)
    assert "confirm_by" not in off.metrics and "classami" not in off.history[-1]
    labeled = graft.fit("builtin:mlp", target, "dann", source=source, out=tmp_path / "tv", target_val=3, **QUIET)
    assert "confirm_by" not in labeled.metrics and "classami" not in labeled.history[-1]


def test_the_reference_s_own_selection_does_not_use_it(tmp_path: Path) -> None:
    # source-only does not adapt: nothing confirms its pick, so the reference every DA run trains is the same
    # model whatever --confirm-by says.
    source, target = shifted_pair()
    a = graft.fit("builtin:mlp", target, "source-only", source=source, out=tmp_path / "a", **QUIET)
    b = graft.fit("builtin:mlp", target, "source-only", source=source, out=tmp_path / "b", confirm_by="none",
                  **QUIET)
    assert "confirm_by" not in a.metrics and same_weights(a, b)
