"""Aggregate runs over seeds and render them as markdown, CSV, PNG and rich tables."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table
from rich.text import Text

from graft.io import atomic_path, write_text
from graft.report._format import (
    DASH,
    display_label,
    escape_markdown_cell,
    format_number,
    is_missing,
    lower_is_better,
    metric_floatfmt,
    ordered_levels,
    require_columns,
)
from graft.report.metrics import mean_std
from graft.report.plots import plot_compare

DEFAULT_BY = ("model", "strategy", "labels_per_class")
DEFAULT_METRICS = ("test_accuracy", "test_macro_f1", "train_seconds")
_HEADER_COLUMNS = ("data", "source", "target")
_HUE_PREFERENCE = ("labels_per_class", "model")


def summarize(results: pd.DataFrame, by: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Mean and standard deviation of each metric per group of runs.

    Groups keep their order of first appearance; a missing grouping value (e.g.
    ``labels_per_class`` NaN, meaning all labels) forms a group of its own. The
    standard deviation is the sample one (``ddof=1``, 0.0 for a single run), and
    NaN metric values are left out, as in :func:`~graft.report.metrics.mean_std`.

    Args:
        results: One row per run.
        by: Grouping columns; empty means one group of all runs.
        metrics: Numeric columns to aggregate.

    Returns:
        Columns ``*by``, then ``<metric>_mean`` and ``<metric>_std`` per metric, then
        ``n`` (runs in the group).

    Raises:
        DataError: If a named column is missing.
    """
    by, metrics = list(by), list(metrics)
    require_columns(results, by + metrics, "results")
    columns = by + [f"{m}_{s}" for m in metrics for s in ("mean", "std")] + ["n"]
    frame = results.copy()
    for metric in metrics:
        frame[metric] = pd.to_numeric(frame[metric], errors="coerce")
    groups = frame.groupby(by, sort=False, dropna=False) if by else [((), frame)]
    rows = []
    for key, part in groups:
        row: dict[str, Any] = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        for metric in metrics:
            row[f"{metric}_mean"], row[f"{metric}_std"] = mean_std(part[metric])
        row["n"] = len(part)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def format_mean_std(mean: float, std: float, fmt: str = ".3f") -> str:
    """Render ``mean ± std``, e.g. ``"0.812 ± 0.013"``; a missing std shows the mean only."""
    if is_missing(mean):
        return DASH
    if is_missing(std):
        return format(float(mean), fmt)
    return f"{float(mean):{fmt}} ± {float(std):{fmt}}"


def markdown_table(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """Render a DataFrame as a GitHub markdown table (the index is not shown).

    Floats use ``floatfmt``, missing values show as ``—``, numeric columns are
    right-aligned and pipes inside cells are escaped.
    """
    headers = [escape_markdown_cell(str(c)) for c in df.columns]
    rows = [
        [escape_markdown_cell(format_number(v, floatfmt)) for v in row] for row in df.itertuples(index=False)
    ]
    right = [
        pd.api.types.is_numeric_dtype(df.iloc[:, i]) and not pd.api.types.is_bool_dtype(df.iloc[:, i])
        for i in range(df.shape[1])
    ]
    widths = [max([3, len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if r else "-") for w, r in zip(widths, right)) + "|"
    return "\n".join([line(headers), rule] + [line(r) for r in rows]) + "\n"


def write_compare_outputs(
    results: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    by: Sequence[str] = DEFAULT_BY,
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    compare: str = "strategy",
) -> dict[str, Path]:
    """Write ``results.csv``, ``summary.md`` and ``plots/compare.png`` for ``graft compare``.

    Grouping columns absent from ``results`` or entirely missing (e.g. every run
    used all labels) and absent metric columns are skipped. In the summary
    the best mean of each metric is bolded among the rows that differ only in
    ``compare`` (e.g. the best strategy per model × labels-per-class).

    Args:
        results: One row per run (configuration × seed).
        out_dir: Output directory (created if needed).
        by: Grouping columns of the summary.
        metrics: Metrics summarized as mean ± std.
        compare: The column whose values compete for bold.

    Returns:
        ``{"results": ..., "summary": ..., "plot": ...}``; ``"plot"`` is absent when no
        metric has a value to draw.
    """
    out = Path(out_dir)
    by = [c for c in by if c in results.columns and results[c].notna().any()]
    metrics = [m for m in metrics if m in results.columns]
    paths: dict[str, Path] = {"results": out / "results.csv"}
    with atomic_path(paths["results"]) as tmp:
        results.to_csv(tmp, index=False)
    plot = _write_compare_plot(results, out / "plots" / "compare.png", by, metrics, compare)
    if plot is not None:
        paths["plot"] = plot
    summary = summarize(results, by, metrics)
    text = _summary_header(results, by, compare) + _summary_markdown(summary, by, metrics, compare)
    if plot is not None:
        text += f"\n![{_plot_metric(results, metrics)} by {compare}](plots/compare.png)\n"
    paths["summary"] = out / "summary.md"
    write_text(paths["summary"], text)
    return paths


def rich_summary(
    summary_df: pd.DataFrame, *, compare: str = "strategy", title: str = "graft compare"
) -> Table:
    """Render a :func:`summarize` result as a console table, best values in bold green.

    ``<metric>_mean`` / ``<metric>_std`` pairs become one ``mean ± std`` column.
    """
    means = [str(c) for c in summary_df.columns if str(c).endswith("_mean")]
    metrics = [c[: -len("_mean")] for c in means if f"{c[: -len('_mean')]}_std" in summary_df]
    skip = {f"{m}_{s}" for m in metrics for s in ("mean", "std")} | {"n"}
    by = [c for c in summary_df.columns if c not in skip]
    table = Table(title=title)
    for column in by:
        table.add_column(column)
    for metric in metrics:
        table.add_column(metric, justify="right", no_wrap=True)
    if "n" in summary_df:
        table.add_column("n", justify="right")
    best = {m: _best_flags(summary_df, by, compare, m) for m in metrics}
    for i, record in enumerate(summary_df.to_dict("records")):
        cells: list[str | Text] = [display_label(record[c], c) for c in by]
        for metric in metrics:
            text = format_mean_std(record[f"{metric}_mean"], record[f"{metric}_std"], metric_floatfmt(metric))
            cells.append(Text(text, style="bold green" if best[metric][i] else ""))
        if "n" in summary_df:
            cells.append(str(record["n"]))
        table.add_row(*cells)
    return table


def _summary_markdown(summary: pd.DataFrame, by: list[str], metrics: list[str], compare: str) -> str:
    table = pd.DataFrame({c: [display_label(v, c) for v in summary[c]] for c in by}, index=summary.index)
    for metric in metrics:
        flags = _best_flags(summary, by, compare, metric)
        pairs = zip(summary[f"{metric}_mean"], summary[f"{metric}_std"])
        cells = [format_mean_std(m, s, metric_floatfmt(metric)) for m, s in pairs]
        table[metric] = [f"**{c}**" if flag else c for c, flag in zip(cells, flags)]
    table["n"] = summary["n"].to_numpy()
    return markdown_table(table)


def _summary_header(results: pd.DataFrame, by: list[str], compare: str) -> str:
    lines = ["# graft compare", ""]
    for column in _HEADER_COLUMNS:
        if column in results:
            values = ordered_levels(results[column], column)
            lines.append(f"- {column}: " + ", ".join(f"`{v}`" for v in values))
    if "seed" in results:
        lines.append("- seeds: " + ", ".join(ordered_levels(results["seed"], "seed")))
    if "labels_per_class" in results:
        values = ordered_levels(results["labels_per_class"], "labels_per_class")
        lines.append("- labels per class: " + ", ".join(values))
    lines.append(f"- runs: {len(results)} (one row per configuration × seed in `results.csv`)")
    context = " × ".join(c for c in by if c != compare) or "all rows"
    who = compare if compare in by else "row"
    lines.append(f"- cells: mean ± sample std (ddof=1) over runs; **bold**: best {who} per {context}")
    return "\n".join(lines) + "\n\n"


def _best_flags(summary: pd.DataFrame, by: list[str], compare: str, metric: str) -> list[bool]:
    """True where a row has the best mean among rows that differ only in ``compare``."""
    means = pd.to_numeric(summary[f"{metric}_mean"], errors="coerce")
    context = [c for c in by if c != compare]
    keys = [_row_label(row, context) for row in summary[context].itertuples(index=False)]
    flags = [False] * len(summary)
    lower = lower_is_better(metric)
    for key in dict.fromkeys(keys):
        idx = [i for i, k in enumerate(keys) if k == key and np.isfinite(means.iloc[i])]
        if len(idx) < 2:
            continue
        best = min(means.iloc[idx]) if lower else max(means.iloc[idx])
        for i in idx:
            flags[i] = bool(np.isclose(means.iloc[i], best, rtol=0, atol=1e-12))
    return flags


def _plot_metric(results: pd.DataFrame, metrics: list[str]) -> str | None:
    candidates = ["test_accuracy", *metrics] if "test_accuracy" in results else metrics
    for metric in candidates:
        if pd.to_numeric(results[metric], errors="coerce").notna().any():
            return metric
    return None


def _write_compare_plot(
    results: pd.DataFrame, path: Path, by: list[str], metrics: list[str], compare: str
) -> Path | None:
    metric = _plot_metric(results, metrics)
    if metric is None or results.empty:
        return None
    varying = [c for c in by if results[c].nunique(dropna=False) > 1]
    hue = next((c for c in _HUE_PREFERENCE if c in varying), None)
    groups = [c for c in by if c != hue and (c in varying or c == compare)]
    frame = results.copy()
    if not groups:
        group = "all runs"
        frame[group] = "all runs"
    elif len(groups) == 1:
        group = groups[0]
    else:  # fold the other varying columns into the x labels so no bar mixes them
        group = " · ".join(groups)
        frame[group] = [" · ".join(_row_label(row, groups)) for row in frame[groups].itertuples(index=False)]
    return plot_compare(frame, path, metric=metric, group=group, hue=hue)


def _row_label(row: tuple[Any, ...], columns: list[str]) -> tuple[str, ...]:
    return tuple(display_label(v, c) for c, v in zip(columns, row))
