"""Reporting: metrics, seed aggregation, tables, plots and the per-run ``report.md``.

Importing this package has no side effects: plots use an Agg canvas directly and
never select a pyplot backend.
"""

from graft.report.metrics import classification_metrics, mean_std, per_class_metrics
from graft.report.plots import plot_compare, plot_confusion, plot_embedding, plot_learning_curves
from graft.report.run_report import write_run_report
from graft.report.tables import (
    format_mean_std,
    markdown_table,
    rich_summary,
    summarize,
    write_compare_outputs,
)

__all__ = [
    "classification_metrics",
    "format_mean_std",
    "markdown_table",
    "mean_std",
    "per_class_metrics",
    "plot_compare",
    "plot_confusion",
    "plot_embedding",
    "plot_learning_curves",
    "rich_summary",
    "summarize",
    "write_compare_outputs",
    "write_run_report",
]
