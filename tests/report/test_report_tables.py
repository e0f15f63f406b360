from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from graft.errors import DataError
from graft.report import format_mean_std, markdown_table, rich_summary, summarize, write_compare_outputs


def test_summarize_groups_in_first_seen_order(two_strategy_results: pd.DataFrame) -> None:
    out = summarize(two_strategy_results, ["strategy"], ["test_accuracy", "train_seconds"])
    assert list(out.columns) == [
        "strategy", "test_accuracy_mean", "test_accuracy_std", "train_seconds_mean", "train_seconds_std", "n",
    ]
    assert out["strategy"].tolist() == ["finetune", "scratch"]
    assert out["test_accuracy_mean"].tolist() == pytest.approx([0.9, 0.6])
    assert out["test_accuracy_std"].tolist() == pytest.approx([0.1, 0.1])
    assert out["train_seconds_std"].tolist() == pytest.approx([2.0, 1.0])
    assert out["n"].tolist() == [3, 3]


def test_summarize_keeps_missing_group_values_and_skips_nan_metrics() -> None:
    results = pd.DataFrame(
        {"labels_per_class": [1, 1, np.nan, np.nan], "test_accuracy": [0.2, 0.4, 0.9, np.nan]}
    )
    out = summarize(results, ["labels_per_class"], ["test_accuracy"])
    assert len(out) == 2 and math.isnan(out["labels_per_class"].iloc[1])
    assert out["test_accuracy_mean"].tolist() == pytest.approx([0.3, 0.9])
    assert out["test_accuracy_std"].iloc[1] == 0.0
    assert out["n"].tolist() == [2, 2]


def test_summarize_without_groups_and_with_missing_column(two_strategy_results: pd.DataFrame) -> None:
    out = summarize(two_strategy_results, [], ["test_accuracy"])
    assert len(out) == 1 and out["n"].iloc[0] == 6
    with pytest.raises(DataError, match="'nope'"):
        summarize(two_strategy_results, ["nope"], ["test_accuracy"])


def test_format_mean_std() -> None:
    assert format_mean_std(0.8123, 0.0129) == "0.812 ± 0.013"
    assert format_mean_std(12.34, 0.5, ".1f") == "12.3 ± 0.5"
    assert format_mean_std(0.8123, math.nan) == "0.812"
    assert format_mean_std(math.nan, 0.1) == "—"


def test_markdown_table_formats_aligns_and_escapes() -> None:
    df = pd.DataFrame({"name": ["a|b", "c"], "acc": [0.81234, np.nan], "n": [3, 10]})
    assert markdown_table(df) == (
        "| name |   acc |   n |\n"
        "|------|------:|----:|\n"
        "| a\\|b | 0.812 |   3 |\n"
        "| c    |     — |  10 |\n"
    )
    assert "0.81" in markdown_table(df, floatfmt=".2f")


def test_write_compare_outputs_bolds_best(
    tmp_path: Path, two_strategy_results: pd.DataFrame, assert_png: Callable, assert_no_temp_files: Callable
) -> None:
    paths = write_compare_outputs(two_strategy_results, tmp_path)
    assert set(paths) == {"results", "summary", "plot"}
    assert pd.read_csv(paths["results"]).shape == two_strategy_results.shape
    summary = paths["summary"].read_text(encoding="utf-8")
    assert "- data: `builtin:digits`" in summary and "- seeds: 0, 1, 2" in summary
    table = [line for line in summary.splitlines() if line.startswith("| builtin:lenet")]
    assert len(table) == 2
    finetune, scratch = table
    assert "**0.900 ± 0.100**" in finetune and "**0.800 ± 0.100**" in finetune
    assert "| 0.600 ± 0.100" in scratch and "**" not in scratch.split("|")[3]
    assert "**4.0 ± 1.0**" in scratch and "12.0 ± 2.0" in finetune  # less time is better
    assert "labels_per_class" not in summary  # column absent from results: skipped
    assert "](plots/compare.png)" in summary
    assert_png(paths["plot"], (720, 540))
    assert_no_temp_files(tmp_path)


def test_write_compare_outputs_with_several_k_and_all_labels(tmp_path: Path) -> None:
    rows = [
        {"strategy": s, "labels_per_class": k, "seed": seed, "test_accuracy": 0.5 + 0.1 * seed}
        for k in (1, 10, np.nan)
        for s in ("scratch", "finetune")
        for seed in (0, 1)
    ]
    paths = write_compare_outputs(pd.DataFrame(rows), tmp_path)
    summary = paths["summary"].read_text(encoding="utf-8")
    rows_md = [line for line in summary.splitlines() if line.startswith("| scratch") or line.startswith("| finetune")]
    assert len(rows_md) == 6
    assert "| all " in summary and "| 10 " in summary and "10.0" not in summary
    assert "test_macro_f1" not in summary and "train_seconds" not in summary
    assert paths["plot"].stat().st_size > 0


def test_write_compare_outputs_drops_all_missing_group_column(tmp_path: Path, two_strategy_results: pd.DataFrame) -> None:
    results = two_strategy_results.assign(labels_per_class=None)  # every run used all labels
    summary = write_compare_outputs(results, tmp_path)["summary"].read_text(encoding="utf-8")
    assert "- labels per class: all" in summary
    assert "| labels_per_class" not in summary and "**0.900 ± 0.100**" in summary


def test_write_compare_outputs_without_metrics_writes_no_plot(tmp_path: Path) -> None:
    paths = write_compare_outputs(pd.DataFrame({"strategy": ["a", "b"], "seed": [0, 0]}), tmp_path)
    assert "plot" not in paths and paths["summary"].is_file()


def test_rich_summary_renders_mean_std(two_strategy_results: pd.DataFrame) -> None:
    table = rich_summary(summarize(two_strategy_results, ["strategy"], ["test_accuracy"]))
    assert [c.header for c in table.columns] == ["strategy", "test_accuracy", "n"]
    assert table.row_count == 2
    console = Console(record=True, width=120)
    console.print(table)
    text = console.export_text()
    assert "0.900 ± 0.100" in text and "scratch" in text
