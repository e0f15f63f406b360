"""``report.md`` of one run: key figures, plots, per-class results and the resolved config."""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import pandas as pd
import yaml

from graft.errors import DataError
from graft.io import write_text
from graft.report._format import DASH, display_label, escape_markdown_cell, format_number, is_missing
from graft.report.metrics import per_class_metrics
from graft.report.plots import History, plot_confusion, plot_learning_curves
from graft.report.tables import markdown_table

REPORT_NAME = "report.md"
LEARNING_CURVES = Path("plots") / "learning_curves.png"
CONFUSION = Path("plots") / "confusion.png"
_TITLE_KEYS = ("strategy", "model", "data")
# A history whose rows carry one of these columns is a sweep over that value (one row per
# value tried, e.g. a probe's regularisation C), not a run of epochs.
SWEEP_COLUMNS = ("C",)
_SIZE_KEYS = ("n_train_labeled", "n_val", "n_test")
# metric keys shown in the key-figures table, so "other metrics" does not repeat them
_KEY_FIGURE_KEYS = {
    "test_accuracy", "test_macro_f1", "val_accuracy", "selected_by", "selected_epoch", "best_epoch",
    "epochs_run", "trainable_params", "total_params", "train_seconds", "peak_memory_mb",
    "n_train_labeled", "n_val", "n_test", "seed", "labels_per_class",
    "params", "macs", "latency_ms_b1", "latency_ms_b32", "latency_device", "latency_threads", "cost_seq_len",
}


def write_run_report(
    run_dir: str | os.PathLike[str],
    metrics: Mapping[str, Any],
    config: Mapping[str, Any],
    history: History | None,
    confusion: Any | None,
    classes: list[str],
) -> Path:
    """Write ``plots/*.png`` and ``report.md`` into a run directory.

    Args:
        run_dir: The run directory (created if needed).
        metrics: The flat ``metrics.json`` dict (see DESIGN.md); missing keys show as ``—``.
        config: The resolved config, rendered as YAML.
        history: Per-epoch rows for the learning curves, or None to skip them.
        confusion: Test confusion matrix (rows true, columns predicted), or None.
        classes: Class names in index order; empty means ``0 .. n-1``.

    Returns:
        Path of ``report.md``.

    Raises:
        DataError: If ``confusion`` is not square or does not match ``classes``
            (checked by :func:`~graft.report.plots.plot_confusion` before the table).
    """
    run = Path(run_dir)
    sweep = _sweep(history, metrics)
    sections = [_title(metrics, config), _key_figures(metrics, sweep)]
    other = _other_metrics(metrics)
    if other:
        sections.append("## Other metrics\n\n" + other)
    if sweep is not None:
        sections.append(sweep.section())
    elif history is not None and len(history) > 0:
        try:
            start = metrics.get("epoch_0")  # what the epoch-0 row is, where a strategy says (a DA run's reference)
            plot_learning_curves(history, run / LEARNING_CURVES, selected_epoch=_selected_epoch(metrics),
                                 start=start or "starting model")
            said = f"Epoch 0 is the {start}.\n\n" if start else ""
            sections.append(f"## Learning curves\n\n{said}![learning curves]({LEARNING_CURVES.as_posix()})\n")
        except DataError:
            pass  # a history without loss/accuracy/lr columns has nothing to draw
    if confusion is not None and len(confusion) > 0:
        plot_confusion(confusion, classes, run / CONFUSION)
        sections.append(f"## Confusion matrix\n\n![confusion matrix]({CONFUSION.as_posix()})\n")
        sections.append("## Per-class results (test)\n\n" + _per_class_table(confusion, classes))
    schema = config.get("input_schema")
    if schema:  # what the run learned from its data: every preprocessing choice, none silent
        sections.append("## Input schema\n\nWhat the run learned from its training data; saved in "
                        "`model/schema.json` and applied again by `graft predict`.\n\n"
                        + "\n".join(f"- {line}" for line in schema) + "\n")
    dumped = yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True)
    sections.append(f"## Resolved config\n\n```yaml\n{dumped}```\n")
    path = run / REPORT_NAME
    write_text(path, "\n".join(sections))
    return path


def _title(metrics: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    strategy, model, data = (_lookup(k, metrics, config) for k in _TITLE_KEYS)
    seed = metrics.get("seed", config.get("seed"))
    k = metrics.get("labels_per_class", config.get("labels_per_class"))
    details = [] if is_missing(seed) else [f"seed {seed}"]
    details.append("all labels" if is_missing(k) else f"{display_label(k)} labels per class")
    return f"# {strategy} · {model} · {data}\n\n" + " · ".join(details) + "\n"


@dataclasses.dataclass
class _Sweep:
    """A history of one row per value tried (a probe's C), with the chosen one."""

    column: str
    frame: pd.DataFrame
    chosen: Any
    by: str

    def values(self) -> str:
        return ", ".join(format_number(v, "g") for v in self.frame[self.column])

    def summary(self) -> str:
        """``C values tried: 0.01, 0.1, 1, 10; chosen: C=1 (by validation accuracy)``."""
        return (f"{self.column} values tried: {self.values()}; chosen: {self.column}="
                f"{format_number(self.chosen, 'g')} ({self.by})")

    def section(self) -> str:
        shown = [c for c in (self.column, "train_accuracy", "val_accuracy", "val_loss") if c in self.frame]
        table = self.frame[shown].copy()
        table[self.column] = [format_number(v, "g") for v in table[self.column]]
        return (f"## {self.column} values tried\n\n{self.summary()}.\n\n"
                + markdown_table(table, floatfmt=".4f"))


def _sweep(history: History | None, metrics: Mapping[str, Any]) -> _Sweep | None:
    if history is None or len(history) == 0:
        return None
    frame = history if isinstance(history, pd.DataFrame) else pd.DataFrame(list(history))
    column = next((c for c in SWEEP_COLUMNS if c in frame.columns), None)
    if column is None:
        return None
    frame = frame.reset_index(drop=True)
    selected = _selected_epoch(metrics)
    match = frame.index[frame["epoch"] == selected] if "epoch" in frame and selected is not None else []
    row = frame.loc[match[0]] if len(match) else frame.iloc[-1]
    if len(frame) == 1:
        by = "the only value tried"
    elif metrics.get("selected_by") == "val" and "val_accuracy" in frame:
        by = "by validation accuracy"
    else:
        by = f"by {metrics.get('selected_by', 'the last value')}"
    return _Sweep(column, frame, row[column], by)


def _key_figures(metrics: Mapping[str, Any], sweep: _Sweep | None = None) -> str:
    trainable, total = metrics.get("trainable_params"), metrics.get("total_params")
    params = f"{_count(trainable)} / {_count(total)}"
    if _finite(trainable) and _finite(total) and float(total) > 0:
        params += f" ({100 * float(trainable) / float(total):.2f}%)"
    seconds = metrics.get("train_seconds")
    time = DASH if not _finite(seconds) else f"{float(seconds):.1f} s"
    if _finite(seconds) and float(seconds) >= 120:
        time += f" ({float(seconds) / 60:.1f} min)"
    memory = metrics.get("peak_memory_mb")
    rows = [
        ("test accuracy", _num(metrics.get("test_accuracy"))),
        ("test macro-F1", _num(metrics.get("test_macro_f1"))),
        ("val accuracy", _num(metrics.get("val_accuracy"))),
        ("selected by", _text(metrics.get("selected_by"))),
        *(_sweep_rows(sweep) if sweep is not None else [
            ("selected epoch", _count(_selected_epoch(metrics))),
            ("epochs run", _count(metrics.get("epochs_run"))),
        ]),
        ("trainable / total params", params),
        ("train time", time),
        ("peak memory", DASH if not _finite(memory) else f"{float(memory):.1f} MB"),
        *_cost_rows(metrics),
        ("labeled train / val / test examples", " / ".join(_count(metrics.get(k)) for k in _SIZE_KEYS)),
    ]
    return "## Key figures\n\n" + markdown_table(pd.DataFrame(rows, columns=["figure", "value"]))


def _cost_rows(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Inference cost: MACs per example and measured latency, with where it was measured."""
    if "macs" not in metrics and "latency_ms_b1" not in metrics:
        return []  # a run written before these figures existed
    macs = metrics.get("macs")
    per = f" at {metrics['cost_seq_len']} tokens" if _finite(metrics.get("cost_seq_len")) else ""
    threads = metrics.get("latency_threads")
    where = f"{_text(metrics.get('latency_device'))}" + (
        f", {int(threads)} thread{'s' if int(threads) != 1 else ''}" if _finite(threads) else "")
    latency = " / ".join(DASH if not _finite(metrics.get(f"latency_ms_b{b}")) else
                         f"{float(metrics[f'latency_ms_b{b}']):.3g} ms" for b in (1, 32))
    return [("MACs per example", (DASH if not _finite(macs) else _si(float(macs))) + per),
            ("latency batch 1 / 32 (median)", f"{latency} ({where}{per})")]


def _si(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f}"


def _sweep_rows(sweep: _Sweep) -> list[tuple[str, str]]:
    # One row per value tried is not an epoch: name the value and how it was chosen.
    return [(f"chosen {sweep.column}", f"{format_number(sweep.chosen, 'g')} ({sweep.by})"),
            (f"{sweep.column} values tried", sweep.values())]


def _other_metrics(metrics: Mapping[str, Any]) -> str:
    rows = [
        (str(k), format_number(v, ".4f"))
        for k, v in metrics.items()
        if k not in _KEY_FIGURE_KEYS and k not in _TITLE_KEYS and _is_scalar(v) and not is_missing(v)
    ]
    return markdown_table(pd.DataFrame(rows, columns=["metric", "value"])) if rows else ""


def _per_class_table(confusion: Any, classes: list[str]) -> str:
    table = pd.DataFrame(per_class_metrics(confusion))
    table.insert(0, "class", [str(c) for c in classes] if len(classes) else [str(i) for i in range(len(table))])
    table["support"] = table["support"].astype(int)
    return markdown_table(table.rename(columns={"accuracy": "accuracy (recall)", "f1": "F1"}))


def _selected_epoch(metrics: Mapping[str, Any]) -> int | None:
    value = metrics.get("selected_epoch", metrics.get("best_epoch"))
    return int(value) if _finite(value) else None


def _lookup(key: str, metrics: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    value = metrics.get(key, config.get(key))
    return DASH if is_missing(value) else escape_markdown_cell(str(value))


def _num(value: Any) -> str:
    return format_number(value, ".4f") if _finite(value) else DASH


def _count(value: Any) -> str:
    return f"{int(value):,}" if _finite(value) else DASH


def _text(value: Any) -> str:
    return DASH if is_missing(value) else str(value)


def _finite(value: Any) -> TypeGuard[float]:
    """A finite number (not a bool), so ``float(value)`` is safe."""
    numeric = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    return numeric and bool(np.isfinite(value))


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, np.generic))


def _plain(obj: Any) -> Any:
    """Turn a config (dataclasses, paths, tuples, NumPy scalars) into YAML-safe values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_plain(v) for v in obj]
    if isinstance(obj, enum.Enum):
        return _plain(obj.value)
    if isinstance(obj, (np.generic, np.ndarray)):
        return _plain(obj.tolist())
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)
