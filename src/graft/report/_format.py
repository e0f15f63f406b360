"""Small formatting rules shared by tables and plots."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from graft.errors import DataError

# A missing value in these grouping columns has a meaning of its own.
_MISSING_MEANS = {"labels_per_class": "all"}
_RATIO_WORDS = ("accuracy", "f1", "precision", "recall", "auc")
_LOWER_IS_BETTER = ("seconds", "loss", "memory", "_mb", "params", "error", "latency", "flops")
DASH = "—"


def is_missing(value: Any) -> bool:
    """True for None and float NaN (also pandas.NA / NaT)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def display_label(value: Any, column: str = "") -> str:
    """Render a grouping value: ``5.0`` → ``"5"``, NaN → ``"all"`` or ``"—"``."""
    if is_missing(value):
        return _MISSING_MEANS.get(column, DASH)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_ratio_metric(metric: str) -> bool:
    """True for metrics that live in [0, 1] (accuracy, F1, ...)."""
    return any(word in metric.lower() for word in _RATIO_WORDS)


def lower_is_better(metric: str) -> bool:
    """True for costs (time, memory, loss, parameter counts)."""
    return any(word in metric.lower() for word in _LOWER_IS_BETTER)


def format_number(value: Any, floatfmt: str = ".3f") -> str:
    """Format a cell: floats with ``floatfmt``, integers plainly, missing as ``—``."""
    if is_missing(value):
        return DASH
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return str(value) if math.isinf(value) else format(value, floatfmt)
    return str(value)


def escape_markdown_cell(text: str) -> str:
    """Keep a cell on one line and its pipes out of the table structure."""
    return text.replace("|", "\\|").replace("\n", " ")


def metric_floatfmt(metric: str, default: str = ".3f") -> str:
    """Seconds and megabytes read better with one decimal than with three."""
    name = metric.lower()
    return ".1f" if ("seconds" in name or name.endswith("_mb")) else default


def ordered_levels(values: pd.Series, column: str) -> list[str]:
    """Distinct display labels: numeric levels sorted (missing last), others as first seen."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum():
        ordered: list[Any] = sorted(set(numeric.dropna().tolist()))
        ordered += [np.nan] if numeric.isna().any() else []
    else:
        ordered = list(values)
    return list(dict.fromkeys(display_label(v, column) for v in ordered))


def require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise :class:`DataError` naming the missing columns and the available ones."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name} has no column {', '.join(map(repr, missing))}. "
            f"Available: {', '.join(map(str, frame.columns))}."
        )
