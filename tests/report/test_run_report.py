from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from graft.errors import DataError
from graft.report import write_run_report

METRICS = {
    "strategy": "finetune", "model": "builtin:lenet", "data": "builtin:digits", "seed": 0,
    "labels_per_class": 5, "n_train_labeled": 50, "n_val": 100, "n_test": 360, "test_accuracy": 0.91234, "test_macro_f1": 0.9001,
    "val_accuracy": 0.93, "selected_by": "val", "selected_epoch": 2, "epochs_run": 3,
    "trainable_params": 250, "total_params": 1000, "train_seconds": 12.34, "peak_memory_mb": 55.5,
    "proxy_a_distance": 1.25,
}
HISTORY = [{"epoch": e, "train_loss": 1 / e, "val_accuracy": 0.3 * e, "lr": 0.01} for e in (1, 2, 3)]
CONFUSION = [[3, 1], [0, 4]]


@dataclasses.dataclass
class _Schedule:
    name: str = "cosine"
    warmup: tuple[int, int] = (1, 2)


def _links(text: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)


def test_full_report(tmp_path: Path, assert_png: Callable, assert_no_temp_files: Callable) -> None:
    config = {"lr": 0.01, "out": tmp_path / "x", "schedule": _Schedule(), "scale": np.float32(0.5)}
    path = write_run_report(tmp_path, METRICS, config, HISTORY, CONFUSION, ["cat", "dog"])
    assert path == tmp_path / "report.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# finetune · builtin:lenet · builtin:digits")
    assert "seed 0 · 5 labels per class" in text
    assert re.search(r"\| test accuracy\s+\| 0\.9123 ", text) and "50 / 100 / 360" in text
    assert "250 / 1,000 (25.00%)" in text and "12.3 s" in text and "55.5 MB" in text
    assert "| proxy_a_distance | 1.2500 |" in text
    # cat: recall 3/4, precision 3/3, F1 6/7; dog: recall 1, precision 4/5, F1 8/9
    assert re.search(r"\| cat\s+\|\s+4 \|\s+0\.750 \|\s+1\.000 \|\s+0\.857 \|", text)
    assert re.search(r"\| dog\s+\|\s+4 \|\s+1\.000 \|\s+0\.800 \|\s+0\.889 \|", text)
    links = _links(text)
    assert links == ["plots/learning_curves.png", "plots/confusion.png"]
    for link in links:
        assert_png(tmp_path / link, (1440, 480) if "curves" in link else (600, 480))
    dumped = yaml.safe_load(text.split("```yaml\n")[1].split("```")[0])
    assert dumped == {"lr": 0.01, "out": str(tmp_path / "x"), "schedule": {"name": "cosine", "warmup": [1, 2]}, "scale": 0.5}
    assert_no_temp_files(tmp_path)


def test_report_without_history_confusion_or_optional_metrics(tmp_path: Path) -> None:
    metrics = {"strategy": "scratch", "model": "builtin:mlp", "data": "npz:x.npz", "test_accuracy": float("nan")}
    text = write_run_report(tmp_path / "run", metrics, {}, None, None, []).read_text(encoding="utf-8")
    assert _links(text) == []
    assert not (tmp_path / "run" / "plots").exists()
    assert re.search(r"\| test accuracy\s+\| — ", text) and "— / — / —" in text
    assert "all labels" in text
    assert "Per-class" not in text and "## Other metrics" not in text


def test_report_skips_history_without_curves(tmp_path: Path) -> None:
    text = write_run_report(tmp_path, {"strategy": "x"}, {}, [{"epoch": 1, "phase": "warmup"}], None, []).read_text()
    assert "learning curves" not in text and not (tmp_path / "plots").exists()
    assert text.startswith("# x · — · —")


def test_report_rejects_class_names_that_do_not_match(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="classes"):
        write_run_report(tmp_path, METRICS, {}, None, np.array(CONFUSION), ["only-one"])
    assert not (tmp_path / "report.md").exists()


def test_report_says_what_epoch_0_is_where_the_strategy_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import graft.report.run_report as run_report

    drawn: dict = {}
    monkeypatch.setattr(run_report, "plot_learning_curves", lambda *a, **k: drawn.update(k))
    metrics = {"strategy": "dann", "epoch_0": "source-only reference; adapted from the 2-epoch warm start"}
    history = [{"epoch": 0, "im": 1.0}, *HISTORY]
    text = write_run_report(tmp_path, metrics, {}, history, None, []).read_text(encoding="utf-8")
    assert "Epoch 0 is the source-only reference; adapted from the 2-epoch warm start." in text.split(
        "## Learning curves")[1]
    assert drawn["start"] == metrics["epoch_0"]
    plain = write_run_report(tmp_path / "ft", METRICS, {}, HISTORY, None, []).read_text(encoding="utf-8")
    assert "Epoch 0 is" not in plain
