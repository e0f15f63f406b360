"""Classification metrics and seed aggregation, as plain functions over arrays."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from graft.errors import DataError


def classification_metrics(y_true: Any, y_pred: Any, num_classes: int) -> dict[str, Any]:
    """Accuracy, macro-F1 and the confusion matrix of integer predictions.

    Classes absent from both ``y_true`` and ``y_pred`` still count in the macro
    average (with F1 0), so runs with different test subsets stay comparable.

    Args:
        y_true: True class indices, shape ``(n,)`` (list, NumPy array or CPU tensor).
        y_pred: Predicted class indices, shape ``(n,)``.
        num_classes: Number of classes; labels are ``0 .. num_classes - 1``.

    Returns:
        ``{"accuracy": float, "macro_f1": float, "confusion": list[list[int]]}``;
        ``confusion[i][j]`` counts examples of true class ``i`` predicted as ``j``.

    Raises:
        DataError: If the arrays are empty, differ in length or hold labels outside
            ``0 .. num_classes - 1``.

    Example:
        >>> classification_metrics([0, 1, 1], [0, 1, 0], num_classes=2)["accuracy"]
        0.6666666666666666
    """
    if int(num_classes) < 1:
        raise DataError(f"num_classes must be at least 1. Got {num_classes} instead.")
    true = np.asarray(y_true).reshape(-1)
    pred = np.asarray(y_pred).reshape(-1)
    if true.size == 0 or true.shape != pred.shape:
        raise DataError(
            "y_true and y_pred must be non-empty and of equal length. "
            f"Got {true.size} and {pred.size} labels instead."
        )
    for name, arr in (("y_true", true), ("y_pred", pred)):
        if not np.issubdtype(arr.dtype, np.number):
            raise DataError(
                f"{name} must hold integer class indices. Got dtype {arr.dtype} instead. "
                "Map labels to indices before scoring."
            )
        bad = arr[(arr < 0) | (arr >= num_classes) | (arr != np.round(arr))]
        if bad.size:
            raise DataError(
                f"{name} must hold class indices in 0..{num_classes - 1}. "
                f"Got {bad[0]!r} instead. Map labels to indices before scoring."
            )
    # imported here: sklearn.metrics costs ~1.5 s, too much for `import graft.report`
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    true, pred = true.astype(np.int64), pred.astype(np.int64)
    labels = list(range(int(num_classes)))
    return {
        "accuracy": float(accuracy_score(true, pred)),
        "macro_f1": float(f1_score(true, pred, labels=labels, average="macro", zero_division=0)),
        "confusion": confusion_matrix(true, pred, labels=labels).tolist(),
    }


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``) of the finite values.

    NaN values are ignored (a run that did not report the metric). With a single
    value the standard deviation is ``0.0``; with none, both are NaN.

    Example:
        >>> mean_std([0.8, 0.9, 1.0])
        (0.9, 0.09999999999999998)
    """
    arr = np.asarray(list(values), dtype=np.float64).reshape(-1)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return math.nan, math.nan
    std = float(np.std(arr, ddof=1)) if arr.size > 1 else 0.0
    return float(np.mean(arr)), std


def per_class_metrics(confusion: Any) -> list[dict[str, float]]:
    """Per-class support, accuracy (recall), precision and F1 from a confusion matrix.

    Args:
        confusion: Square matrix, rows are true classes and columns predictions.

    Returns:
        One dict per class with ``support``, ``accuracy``, ``precision`` and ``f1``;
        a ratio with a zero denominator is ``0.0`` (as ``zero_division=0``).

    Raises:
        DataError: If ``confusion`` is not a square matrix of non-negative counts.
    """
    cm = np.asarray(confusion, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.size == 0 or (cm < 0).any():
        raise DataError(
            "confusion must be a non-empty square matrix of non-negative counts. "
            f"Got shape {cm.shape} instead."
        )
    tp = np.diag(cm)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    rows = []
    for i in range(cm.shape[0]):
        rows.append(
            {
                "support": float(support[i]),
                "accuracy": _ratio(tp[i], support[i]),
                "precision": _ratio(tp[i], predicted[i]),
                "f1": _ratio(2 * tp[i], support[i] + predicted[i]),
            }
        )
    return rows


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0
