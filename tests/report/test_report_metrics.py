from __future__ import annotations

import math

import numpy as np
import pytest

from graft.errors import DataError
from graft.report import classification_metrics, mean_std, per_class_metrics

# class 0: tp 1 fp 1 fn 1 -> F1 1/2; class 1: tp 2 fp 1 -> F1 4/5;
# class 2: tp 1 fn 1 -> F1 2/3; class 3 never occurs -> F1 0, still averaged.
Y_TRUE = [0, 0, 1, 1, 2, 2]
Y_PRED = [0, 1, 1, 1, 2, 0]


def test_classification_metrics_match_hand_computation() -> None:
    out = classification_metrics(Y_TRUE, Y_PRED, num_classes=4)
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["macro_f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3 + 0) / 4)
    assert out["confusion"] == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    assert isinstance(out["accuracy"], float) and isinstance(out["confusion"][0][0], int)


def test_classification_metrics_accepts_arrays() -> None:
    out = classification_metrics(np.array(Y_TRUE), np.array(Y_PRED, dtype=np.float32), num_classes=3)
    assert out["macro_f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [([0, 1], [0], "equal length"), ([], [], "non-empty"), ([0, 3], [0, 1], "0..2"), (["a"], ["a"], "integer")],
)
def test_classification_metrics_rejects_bad_labels(y_true: list, y_pred: list, match: str) -> None:
    with pytest.raises(DataError, match=match):
        classification_metrics(y_true, y_pred, num_classes=3)


def test_mean_std_uses_sample_std() -> None:
    mean, std = mean_std([0.8, 0.9, 1.0])
    assert mean == pytest.approx(0.9)
    assert std == pytest.approx(0.1)  # sqrt((0.01 + 0 + 0.01) / 2)


def test_mean_std_edge_cases() -> None:
    assert mean_std([0.5]) == (0.5, 0.0)
    assert mean_std([1.0, math.nan, 3.0]) == pytest.approx((2.0, math.sqrt(2.0)))
    mean, std = mean_std([])
    assert math.isnan(mean) and math.isnan(std)


def test_per_class_metrics_from_confusion() -> None:
    rows = per_class_metrics([[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    assert [r["support"] for r in rows] == [2, 2, 2]
    assert [r["accuracy"] for r in rows] == pytest.approx([0.5, 1.0, 0.5])
    assert [r["precision"] for r in rows] == pytest.approx([0.5, 2 / 3, 1.0])
    assert [r["f1"] for r in rows] == pytest.approx([0.5, 0.8, 2 / 3])
    assert per_class_metrics([[0, 0], [0, 3]])[0] == {"support": 0.0, "accuracy": 0.0, "precision": 0.0, "f1": 0.0}
    with pytest.raises(DataError, match="square"):
        per_class_metrics([[1, 2, 3]])
