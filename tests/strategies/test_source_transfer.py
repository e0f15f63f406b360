"""A labeled source beside a labeled target: multitask (a head per task, classes may differ) and
instance-weighting (source examples resampled by their relevance to the target)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

import graft
from graft.data import DataSource, from_arrays
from graft.engine.config import TrainConfig
from graft.errors import ConfigError, DataError
from graft.strategies import FitContext
from graft.strategies.instance_weighting import (
    InstanceWeighting,
    InstanceWeightingConfig,
    source_weights,
    tradaboost_beta,
    tradaboost_update,
)
from tests.conftest import blobs, table_source, tiny_mlp
from tests.strategies.conftest import Setup

QUIET = {"epochs": 3, "batch_size": 16, "lr": 3e-3, "progress": False}


def test_multitask_trains_both_heads_and_keeps_the_target_one(tmp_path: Path) -> None:
    x_s, y_s = blobs(40, n_classes=5, seed=3)  # the source's own 5-class task on the same inputs
    source = from_arrays(x_s, np.array([f"s{c}" for c in y_s]), name="five")
    run = graft.fit("builtin:mlp", table_source(seed=1), "multitask", source=source, labels_per_class=5,
                    out=tmp_path / "mt", **QUIET)
    assert run.metrics["test_accuracy"] > 0.7 and run.model.num_classes == 3
    trained = [r for r in run.history if r["epoch"] > 0]
    assert trained[-1]["train_source_accuracy"] > 0.4  # the 5-class source head learned too
    # an epoch is a pass over the source's 90 % (180 examples), not the 15 target labels
    assert run.metrics["n_train_labeled"] == 15


def test_the_source_examples_that_look_like_the_target_weigh_more() -> None:
    x_t, y_t = blobs(20, seed=1)
    near, y_near = blobs(20, seed=2)
    far, y_far = blobs(20, seed=3, shift=6.0)
    x_s, y_s = np.concatenate([near, far]), np.concatenate([y_near, y_far])
    model = tiny_mlp(table_source())

    def ds(x: np.ndarray, y: np.ndarray) -> TensorDataset:
        return TensorDataset(torch.tensor(x), torch.tensor(y))

    ctx = FitContext(model=model, train=ds(x_t, y_t), val=None, train_config=TrainConfig(),
                     source=ds(x_s, y_s), source_classes=["0", "1", "2"])
    w = source_weights(ctx, max_weight=10.0)
    assert w.shape == (120,) and abs(w.mean() - 1) < 1e-9
    assert w[:60].mean() > 3 * w[60:].mean()
    assert np.allclose(source_weights(ctx, max_weight=1e-9), 1.0)  # every weight clipped: all equal


def test_instance_weighting_learns_and_plots_its_weights(tmp_path: Path) -> None:
    run = graft.fit("builtin:mlp", table_source(seed=1), "instance-weighting", source=table_source(seed=2, shift=1.0),
                    labels_per_class=5, out=tmp_path / "iw", **QUIET)
    assert run.metrics["test_accuracy"] > 0.7
    assert (tmp_path / "iw" / "plots" / "source_weights.png").is_file()


def test_instance_weighting_needs_the_same_classes(tmp_path: Path) -> None:
    x_s, y_s = blobs(20, n_classes=4, seed=3)
    with pytest.raises(DataError, match=r"different class sets \(only in the source: \['3'\]"):
        graft.fit("builtin:mlp", table_source(seed=1), "instance-weighting", source=from_arrays(x_s, y_s),
                  labels_per_class=5, out=tmp_path / "x", **QUIET)
    assert not (tmp_path / "x").exists()


def test_a_source_strategy_without_a_source_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="labeled source data set.*--source SPEC.*the labeled target"):
        graft.fit("builtin:mlp", table_source(seed=1), "multitask", out=tmp_path / "x", **QUIET)


def test_co_tuning_trains_the_source_head_on_translated_labels(tmp_path: Path) -> None:
    x_s, y_s = blobs(30, n_classes=4, seed=5)
    source_run = graft.fit("builtin:mlp", (x_s, np.array(list("abcd"))[y_s]), "scratch", out=tmp_path / "src",
                           **{**QUIET, "epochs": 10, "lr": 1e-2})
    run = graft.fit(f"run:{source_run.run_dir}", table_source(seed=1), "co-tuning", labels_per_class=5,
                    out=tmp_path / "co", **QUIET)
    assert run.metrics["test_accuracy"] > 0.7 and run.model.num_classes == 3
    assert all(r["train_co_tuning"] > 0 for r in run.history if r["epoch"] > 0)


def test_co_tuning_without_a_source_head_is_refused_first(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'co-tuning' strategy trains the model's source head.*--model run:DIR"):
        graft.fit("builtin:mlp", table_source(seed=1), "co-tuning", out=tmp_path / "x", **QUIET)
    assert not (tmp_path / "x").exists()


def test_side_tune_keeps_the_base_frozen_and_learns_the_blend(finished_run: Path, tmp_path: Path) -> None:
    start = {k: v.clone() for k, v in graft.load_run(finished_run).model.backbone.state_dict().items()}
    run = graft.fit(f"run:{finished_run}", table_source(seed=1, shift=1.0), "side-tune", labels_per_class=10,
                    out=tmp_path / "side", lp_init=False, **{**QUIET, "epochs": 5, "lr": 1e-2})
    backbone = run.model.backbone
    assert all(torch.equal(start[k], v) for k, v in backbone.base.state_dict().items())
    assert any(not torch.equal(start[k], v) for k, v in backbone.side.state_dict().items())
    alphas = [r["train_alpha"] for r in run.history if r["epoch"] > 0]
    assert alphas[-1] != pytest.approx(0.5)
    reloaded = graft.load_run(tmp_path / "side").model.backbone  # rebuilt as base + side from model.json
    assert reloaded.alpha == pytest.approx(backbone.alpha)


def test_an_imagenet_built_in_brings_its_classifier_as_the_source_head() -> None:
    from graft.models import DataInfo, ModelOptions, build_model
    from graft.strategies.co_tuning import has_source_head, source_head

    info = DataInfo(kind="image", num_classes=3, classes=["a", "b", "c"])
    model = build_model("builtin:efficientnet-lite0", info, ModelOptions(image_size=32))
    head = source_head(model)
    assert has_source_head(model) and head.weight.shape == (1000, 1280)
    assert not has_source_head(build_model("builtin:efficientnet-lite0", info, ModelOptions(pretrained=False)))


def test_tradaboost_fades_out_the_source_examples_that_contradict_the_target(
    blobs_source: DataSource, make_setup: Callable[..., Setup]
) -> None:
    x_s, y_s = blobs(30, seed=4)
    flipped = np.zeros(len(y_s), dtype=bool)
    flipped[::4] = True  # a quarter of the source is mislabeled
    y_bad = np.where(flipped, (y_s + 1) % 3, y_s)
    source = TensorDataset(torch.tensor(x_s), torch.tensor(y_bad))
    weights = {}
    for reweight in ("none", "tradaboost"):
        setup = make_setup(blobs_source, "instance-weighting", epochs=6, lr=1e-2)
        ctx = dataclasses.replace(setup.ctx, source=source, source_plain=source, source_classes=["0", "1", "2"])
        strategy = InstanceWeighting(InstanceWeightingConfig(reweight=reweight))
        strategy.fit(ctx)
        weights[reweight] = strategy.weights
        assert setup.test_accuracy() > 0.8
    start, end = weights["tradaboost"]
    # The domain classifier does not see labels: at the start both groups weigh alike.
    assert start[flipped].mean() == pytest.approx(start[~flipped].mean(), rel=0.5)
    beta = tradaboost_beta(len(y_s), 6)
    assert end[flipped].mean() < 0.2 * end[~flipped].mean() and abs(end.mean() - 1) < 1e-9
    assert end[flipped].max() < start[flipped].max() * beta  # each mislabeled example lost weight
    assert np.array_equal(*weights["none"])  # without --reweight the weights stay the domain classifier's


def test_the_tradaboost_update_is_tradaboost() -> None:
    assert tradaboost_beta(100, 10) == pytest.approx(1 / (1 + np.sqrt(2 * np.log(100) / 10)))
    w = tradaboost_update(np.array([1.0, 1.0, 2.0, 0.5]), np.array([True, False, True, False]), 0.5)
    expected = np.array([0.5, 1.0, 1.0, 0.5])
    assert np.allclose(w, expected / expected.mean())


def test_tradaboost_plots_the_start_and_the_end_and_an_unknown_reweight_is_refused(tmp_path: Path) -> None:
    run = graft.fit("builtin:mlp", table_source(seed=1), "instance-weighting", source=table_source(seed=2, shift=1.0),
                    labels_per_class=5, reweight="tradaboost", out=tmp_path / "iw", **QUIET)
    assert run.metrics["test_accuracy"] > 0.7 and (tmp_path / "iw" / "plots" / "source_weights.png").is_file()
    assert "reweight: tradaboost" in (tmp_path / "iw" / "config.yaml").read_text()
    with pytest.raises(ConfigError, match="reweight.*tradaboost"):
        graft.fit("builtin:mlp", table_source(seed=1), "instance-weighting", source=table_source(seed=2),
                  reweight="adaboost", out=tmp_path / "x", **QUIET)


def test_a_named_side_network_is_projected_saved_as_one_model_and_reloaded(
    finished_run: Path, blobs_npz: Path, tmp_path: Path
) -> None:
    side_run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", mlp_width=16, mlp_depth=1,
                         out=tmp_path / "small", **QUIET)
    start = {k: v.clone() for k, v in graft.load_run(finished_run).model.backbone.state_dict().items()}
    run = graft.fit(f"run:{finished_run}", table_source(seed=1, shift=1.0), "side-tune", side_model=f"run:{side_run.run_dir}",
                    labels_per_class=10, out=tmp_path / "side", lp_init=False, **{**QUIET, "epochs": 5, "lr": 1e-2})
    backbone = run.model.backbone
    assert all(torch.equal(start[k], v) for k, v in backbone.base.state_dict().items())  # the base stayed frozen
    assert tuple(backbone.project.weight.shape) == (256, 16)  # the 16-wide side mapped to the base's 256
    assert backbone.project.weight.abs().sum() > 0  # it grew in from its zero start
    recipe = json.loads((tmp_path / "side" / "model" / "model.json").read_text())["recipe"]["side_tune"]
    assert recipe["model"] == f"run:{side_run.run_dir}" and recipe["feature_dim"] == 16
    reloaded = graft.load_run(tmp_path / "side").model.eval()
    x = torch.tensor(blobs(10, seed=9)[0])
    with torch.no_grad():
        assert torch.allclose(reloaded(x), run.model.eval()(x), atol=1e-6)
    assert graft.load_run(tmp_path / "side").predict(x.numpy()).equals(run.predict(x.numpy()))
