"""Domain adaptation with ``--target-val K``: K labeled target examples per class, held out of training and
adaptation, select the checkpoint and decide the adapted model against the source-only reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graft
from graft.errors import ConfigError
from tests.strategies.test_adaptation import QUIET, _CollapseTarget, _register_temporary, shifted_pair


@pytest.fixture(scope="module")
def pair():
    return shifted_pair()


def test_the_held_out_examples_are_k_per_class_and_outside_the_adapted_pool_and_the_test_split(pair) -> None:
    from graft.engine.config import TrainConfig
    from graft.streams import plan_splits

    source, target = pair
    needs = frozenset({"source", "target"})
    cut = {"split_seed": 0, "test_fraction": 0.5, "val_fraction": 0.1, "labels_per_class": None}
    plain = plan_splits(needs, target, source, TrainConfig(batch_size=16), seed=0, **cut)
    held = plan_splits(needs, target, source, TrainConfig(batch_size=16), seed=0, target_val=5, **cut)
    val, y = held.target.val, np.asarray(target.y)
    assert np.bincount(y[val]).tolist() == [5, 5, 5]
    assert not np.intersect1d(val, held.target_pool).size and not np.intersect1d(val, held.target.test).size
    assert held.target.test.tolist() == plain.target.test.tolist()  # the same test split scores both
    assert np.union1d(held.target_pool, val).tolist() == plain.target_pool.tolist()
    assert len(plain.target.val) == 0  # without it, domain adaptation has no labeled target validation
    # The validation sample follows the split seed, not the run's seed: every seed of a comparison sees the same.
    again = plan_splits(needs, target, source, TrainConfig(batch_size=16), seed=3, target_val=5, **cut)
    assert again.target.val.tolist() == val.tolist()
    # With --labels-per-class too: the validation examples are taken first, the K labels from the rest.
    both = plan_splits(needs, target, source, TrainConfig(batch_size=16), seed=0, target_val=5,
                       **{**cut, "labels_per_class": 4})
    assert both.target.val.tolist() == val.tolist() and np.bincount(y[both.target.train]).tolist() == [4, 4, 4]
    assert not np.intersect1d(both.target.train, val).size


def test_target_val_refuses_a_collapse_that_the_label_free_validator_picks(
        pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = pair
    _register_temporary(monkeypatch, "test-collapse-target", _CollapseTarget)
    run = graft.fit("builtin:mlp", target, "test-collapse-target", source=source, out=tmp_path, select_by="entropy",
                    trade_off=5.0, target_val=10, **QUIET)
    m, hist = run.metrics, run.history
    # What the label-free validator saw: the collapse made the target predictions surer (it picks that, as
    # test_adaptation's guard test shows), and wrong: the labeled examples' accuracy fell.
    assert max(r["entropy"] for r in hist[1:]) > hist[0]["entropy"]
    assert max(r["val_accuracy"] for r in hist[1:]) < hist[0]["val_accuracy"]
    assert m["selected_epoch"] == 0 and m["selected_by"] == "val"
    assert m["test_accuracy"] == pytest.approx(hist[0]["oracle_test_accuracy"])
    assert m["n_val"] == 30 and m["target_val_examples"] == 30 and m["start_val_accuracy"] == hist[0]["val_accuracy"]
    assert "no adapted epoch scored higher on val_accuracy" in m["selection_note"]
    assert m["selection_note"].endswith("Judged by accuracy on the labeled target examples of --target-val.")


def test_target_val_selects_among_adapted_epochs_by_their_accuracy(pair, tmp_path: Path) -> None:
    source, target = pair
    run = graft.fit("builtin:mlp", target, "dann", source=source, out=tmp_path, target_val=10, **QUIET)
    m, hist = run.metrics, run.history
    chosen = next(r for r in hist if r["epoch"] == m["selected_epoch"])
    assert chosen["val_accuracy"] == max(r["val_accuracy"] for r in hist) or m["selected_epoch"] == 0
    assert chosen["val_accuracy"] >= hist[0]["val_accuracy"]
    assert "im" in hist[-1]  # the label-free validators are still recorded beside it
    assert m["selection_note"].endswith("--target-val.")


def test_target_val_needs_labels_enough_for_k_per_class(pair, tmp_path: Path) -> None:
    source, target = pair
    with pytest.raises(ConfigError, match="--target-val 4 holds out labeled target examples .* has no labels"):
        graft.fit("builtin:mlp", target.x, "dann", source=source, out=tmp_path / "a", target_val=4, **QUIET)
    with pytest.raises(ConfigError, match=r"--target-val 40 is larger than the smallest class .* Allowed: 1\.\.30"):
        graft.fit("builtin:mlp", target, "dann", source=source, out=tmp_path / "b", target_val=40, **QUIET)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_compare_shows_the_accuracy_on_the_held_out_examples_beside_the_test_accuracy(pair, tmp_path: Path) -> None:
    source, target = pair
    results = graft.compare("builtin:mlp", target, ["source-only", "dann"], source=source, seeds=[0],
                            out=tmp_path, target_val=10, **QUIET)
    assert (results["selected_by"] == "val").all() and (results["n_val"] == 30).all()
    header = next(line for line in (tmp_path / "summary.md").read_text().splitlines() if line.startswith("| model"))
    assert header.index("test_accuracy") < header.index("val_accuracy") < header.index("oracle_test_accuracy")


def test_a_predefined_val_split_adapts_unlabeled_unless_target_val_is_given(pair) -> None:
    import dataclasses

    from graft.engine.config import TrainConfig
    from graft.streams import plan_splits

    source, target = pair
    n, order = len(target), np.random.default_rng(0).permutation(len(target))  # rows come sorted by class
    given = dataclasses.replace(target, splits={"train": order[: n // 2], "val": order[n // 2: 3 * n // 4],
                                                "test": order[3 * n // 4:]})
    needs, cut = frozenset({"source", "target"}), {"split_seed": 0, "test_fraction": 0.5, "val_fraction": 0.1,
                                                   "labels_per_class": None}
    plain = plan_splits(needs, given, source, TrainConfig(batch_size=16), seed=0, **cut)
    assert len(plain.target.val) == 0 and len(plain.target_pool) == 3 * n // 4  # label-free: val/ adapts too
    held = plan_splits(needs, given, source, TrainConfig(batch_size=16), seed=0, target_val=2, **cut)
    assert len(held.target.val) == 6 and set(held.target.val) <= set(order[: n // 2])  # from the training split


def test_target_val_may_take_every_training_example_of_a_rare_class(pair) -> None:
    from graft.data import from_arrays
    from graft.engine.config import TrainConfig
    from graft.streams import plan_splits

    source, target = pair
    y = np.asarray(target.y)
    keep = np.concatenate([np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:8]])  # 8 examples of class '2'
    rare = from_arrays(np.asarray(target.x)[keep], y[keep], name="rare")
    plan = plan_splits(frozenset({"source", "target"}), rare, source, TrainConfig(batch_size=16), seed=0,
                       split_seed=0, test_fraction=0.5, val_fraction=0.1, labels_per_class=None, target_val=4)
    assert (np.asarray(rare.y)[plan.target.val] == 2).sum() == 4  # all four training examples of it
