from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graft.errors import ConfigError, DataError
from graft.report import plot_compare, plot_confusion, plot_embedding, plot_learning_curves

HISTORY = [
    {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 0.5 + e / 20, "val_accuracy": 0.4 + e / 20, "lr": 0.1 / e}
    for e in range(1, 6)
]


def test_learning_curves_with_lr_panel(tmp_path: Path, assert_png: Callable, assert_no_temp_files: Callable) -> None:
    out = plot_learning_curves(HISTORY, tmp_path / "plots" / "curves.png", selected_epoch=3)
    assert out == tmp_path / "plots" / "curves.png"
    assert_png(out, (1440, 480))  # 12 × 4 inches at 120 dpi
    assert_no_temp_files(tmp_path)


def test_learning_curves_skip_missing_columns_and_nan(tmp_path: Path, assert_png: Callable) -> None:
    frame = pd.DataFrame({"train_loss": [1.0, 0.5, 0.3], "val_accuracy": [math.nan, 0.6, math.nan], "note": ["a", "b", "c"]})
    assert_png(plot_learning_curves(frame, tmp_path / "c.png"), (1200, 480))  # no lr: two panels, 10 × 4


def test_learning_curves_reject_nothing_to_plot(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        plot_learning_curves([], tmp_path / "c.png")
    with pytest.raises(DataError, match="no column to plot"):
        plot_learning_curves([{"epoch": 1, "val_loss": math.nan}], tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("normalize", [True, False])
def test_confusion_plot(tmp_path: Path, normalize: bool, assert_png: Callable) -> None:
    out = plot_confusion([[5, 1, 0], [0, 0, 0], [2, 0, 3]], ["cat", "dog", "bird"], tmp_path / "cm.png", normalize)
    assert_png(out, (600, 480))  # 5 × 4 inches: square panel plus colour bar


def test_confusion_plot_checks_class_names(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="classes"):
        plot_confusion([[1, 0], [0, 1]], ["only-one"], tmp_path / "cm.png")


def test_compare_plot(tmp_path: Path, two_strategy_results: pd.DataFrame, assert_png: Callable) -> None:
    assert_png(plot_compare(two_strategy_results, tmp_path / "a.png"), (720, 540))  # 6 × 4.5 inches
    assert_png(plot_compare(two_strategy_results, tmp_path / "b.png", metric="train_seconds"), (720, 540))


def test_compare_plot_with_hue_and_all_labels(tmp_path: Path, assert_png: Callable) -> None:
    results = pd.DataFrame(
        {
            "strategy": ["scratch", "finetune"] * 4,
            "labels_per_class": [1, 1, 1, 1, np.nan, np.nan, np.nan, np.nan],
            "test_accuracy": [0.3, 0.5, 0.35, 0.55, 0.8, 0.9, 0.82, 0.91],
        }
    )
    out = plot_compare(results, tmp_path / "hue.png", hue="labels_per_class")
    with pytest.raises(DataError, match="'model'"):
        plot_compare(results, tmp_path / "x.png", hue="model")
    assert out.stat().st_size > 0


def test_embedding_plot(tmp_path: Path, assert_png: Callable) -> None:
    rng = np.random.default_rng(0)
    source, target = rng.normal(size=(40, 8)), rng.normal(1.0, size=(30, 8))
    out = plot_embedding({"source": source, "target": target}, tmp_path / "tsne.png", labels={"source": rng.integers(0, 3, 40)})
    assert_png(out, (840, 720))  # 7 × 6 inches
    out = plot_embedding({"source": source, "target": target}, tmp_path / "pca.png", method="pca", max_points=20)
    assert_png(out, (840, 720))


def test_embedding_plot_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Did you mean 'tsne'"):
        plot_embedding({"a": np.zeros((10, 2))}, tmp_path / "e.png", method="tnse")
    with pytest.raises(DataError, match="same feature width"):
        plot_embedding({"a": np.zeros((10, 2)), "b": np.zeros((10, 3))}, tmp_path / "e.png")
    with pytest.raises(DataError, match="entries"):
        plot_embedding({"a": np.zeros((10, 2))}, tmp_path / "e.png", labels={"a": [0, 1]})


def test_import_selects_no_pyplot_backend() -> None:
    code = "import sys, graft.report; print('matplotlib.pyplot' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_learning_curves_start_validation_at_epoch_0_and_training_at_1(tmp_path: Path, assert_png: Callable) -> None:
    from graft.report.plots import _history_frame, _learning_curves_figure

    start = {"epoch": 0, "val_loss": 0.9, "val_accuracy": 0.7, "seconds": 0.1}
    history = [start, *HISTORY]
    fig = _learning_curves_figure(_history_frame(history), selected_epoch=0, title=None)
    drawn = {line.get_label(): list(line.get_xdata()) for ax in fig.axes for line in ax.get_lines()}
    assert drawn["val_loss"][0] == 0 and drawn["val_accuracy"][0] == 0
    assert drawn["train_loss"][0] == 1 and drawn["train_accuracy"][0] == 1 and drawn["lr"][0] == 1
    assert fig.axes[0].get_xlabel() == "epoch (0: starting model)"
    # a history.csv read back has NaN in the start's training columns; even a stray value is not drawn
    frame = pd.DataFrame(history)
    frame.loc[0, "train_loss"] = 5.0
    fig = _learning_curves_figure(_history_frame(frame), selected_epoch=None, title=None)
    train_loss = next(line for line in fig.axes[0].get_lines() if line.get_label() == "train_loss")
    assert next(iter(train_loss.get_xdata())) == 1
    assert_png(plot_learning_curves(frame, tmp_path / "c.png", selected_epoch=0), (1440, 480))
