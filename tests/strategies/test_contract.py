"""The strategy contract, run for every registered strategy on a tiny model and tiny data.

A strategy registered tomorrow is tested here the day it is registered: streams it
``needs`` (a labeled source, an unlabeled target, a teacher) are provided generically.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

import graft
from graft.data import DataSource, load_source, make_splits
from graft.engine.config import TrainConfig
from graft.errors import ConfigError
from graft.strategies import STRATEGIES, Strategy, StrategyConfig

METRIC_KEYS = {
    "strategy", "model", "data", "seed", "n_train_labeled", "n_test", "test_accuracy", "test_macro_f1",
    "val_accuracy", "selected_by", "trainable_params", "total_params", "train_seconds", "peak_memory_mb",
    "epochs_run",
}
TINY = {"epochs": 3, "batch_size": 16, "lr": 3e-3, "progress": False}


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory: pytest.TempPathFactory, blobs_npz: Path) -> Path:
    """A trained run any distillation strategy may learn from (built only when needed)."""
    out = tmp_path_factory.mktemp("teacher") / "run"
    graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=out, **TINY)
    return out


def _validators() -> set[str]:
    try:
        from graft.selection import VALIDATORS
    except ImportError:  # no label-free validators registered yet
        return set()
    return set(VALIDATORS)


def _needs_kwargs(cls: type[Strategy], shifted: DataSource, request: pytest.FixtureRequest) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if {"source", "target"} & cls.needs:
        kwargs["source"] = shifted
    if "teacher" in cls.needs:
        kwargs["teacher"] = f"run:{request.getfixturevalue('teacher_run')}"
    if "unlabeled" in cls.needs:  # the unlabeled rest of the training split is the second stream
        kwargs["labels_per_class"] = 10
    return kwargs


def test_the_registry_holds_the_core_strategies() -> None:
    assert {"scratch", "linear-probe", "finetune"} <= set(STRATEGIES)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_strategy_declares_config_and_needs(name: str) -> None:
    cls = STRATEGIES.get(name)
    assert issubclass(cls, Strategy) and cls.name == name
    assert dataclasses.is_dataclass(cls.Config) and issubclass(cls.Config, StrategyConfig)
    cls(cls.Config())  # every option has a default
    assert cls.needs <= {"source", "target", "teacher", "unlabeled", "source_head"}
    assert set(cls.train_defaults) <= {f.name for f in dataclasses.fields(TrainConfig)}
    assert STRATEGIES.describe()[name]


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_strategy_fits_and_writes_a_complete_run_directory(
    name: str, tmp_path: Path, blobs_npz: Path, shifted_source: DataSource, request: pytest.FixtureRequest
) -> None:
    cls = STRATEGIES.get(name)
    data = f"npz:{blobs_npz}"
    out = tmp_path / name
    from graft.option_groups import without_ignored

    # a strategy that needs a source head, or pulls toward pretrained weights, starts from a run
    # (trained weights, and a head of the source task's)
    from_run = "source_head" in cls.needs or cls.anchors_pretrained
    model = f"run:{request.getfixturevalue('teacher_run')}" if from_run else "builtin:mlp"
    run = graft.fit(model, data, name, out=out, seed=0, **without_ignored(cls, TINY),
                    **_needs_kwargs(cls, shifted_source, request))

    # Learns: well above chance (3 classes) on the held-out test split.
    m = run.metrics
    assert m["test_accuracy"] > 1 / 3 + 0.25, m

    # The run directory holds everything DESIGN.md promises, and no checkpoints.
    assert (out / "config.yaml").is_file()
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["strategy"] == name
    assert config["train"]["epochs"] == without_ignored(cls, TINY).get("epochs", cls.train_defaults.get("epochs", 30))
    metrics = json.loads((out / "metrics.json").read_text())
    missing = METRIC_KEYS - set(metrics)
    assert not missing, f"metrics.json lacks {sorted(missing)}"
    assert metrics["strategy"] == name and metrics["model"] == model and metrics["data"] == data
    assert metrics["test_accuracy"] == pytest.approx(m["test_accuracy"])
    # Labeled validation selects, or a label-free validator where the strategy has no target labels.
    assert metrics["selected_by"] == "val" or metrics["selected_by"] in _validators(), metrics["selected_by"]
    assert 0 < metrics["trainable_params"] <= metrics["total_params"]
    assert metrics["epochs_run"] >= 1 and metrics["train_seconds"] >= 0 and metrics["peak_memory_mb"] > 0
    assert metrics["val_accuracy"] is None or 0.0 <= metrics["val_accuracy"] <= 1.0
    assert (out / "model" / "model.safetensors").is_file()
    history = (out / "history.csv").read_text().strip().splitlines()
    assert len(history) >= 2
    assert (out / "report.md").read_text().strip()
    plots = sorted((out / "plots").glob("*.png"))
    assert plots
    for plot in plots:
        with Image.open(plot) as image:
            assert image.format == "PNG"
    assert not (out / "checkpoints").exists()
    assert [p for p in out.rglob("*") if p.name.endswith(".tmp")] == []

    # The saved model reproduces the in-memory model and the reported test accuracy.
    loaded = graft.load_run(out)
    frame = loaded.predict(data)
    in_memory = run.predict(data)
    assert list(frame["prediction"]) == list(in_memory["prediction"])
    probs = [c for c in frame.columns if c.startswith("p_")]
    assert np.allclose(frame[probs].to_numpy(), in_memory[probs].to_numpy(), atol=1e-5)
    splits = make_splits(load_source(data), seed=0, split_seed=0, test_fraction=0.5, val_fraction=0.1)
    assert metrics["n_test"] == len(splits.test)
    test = frame.iloc[splits.test]
    assert (test["prediction"] == test["label"]).mean() == pytest.approx(metrics["test_accuracy"])


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_strategy_rejects_an_unknown_option_before_any_work(name: str, tmp_path: Path, blobs_npz: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown option 'no-such-option'"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", name, out=tmp_path, no_such_option=1)
    assert not any(tmp_path.iterdir())
