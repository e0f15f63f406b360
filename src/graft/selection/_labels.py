"""Class labels and source probabilities for the transferability scores, checked once."""

from __future__ import annotations

from typing import Any

import numpy as np

from graft.errors import DataError
from graft.selection._arrays import ArrayLike, as_matrix

# Rows of source probabilities may drift this far from summing to 1 (float32 softmax outputs).
_PROB_SUM_TOL = 1e-3


def class_labels(labels: Any, n: int, score: str, min_per_class: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Labels as ``0..C-1`` (in sorted order of the given values) and the count of each class.

    Any hashable values work (ints, strings); the classes are those present, so no class
    is ever empty.

    Args:
        labels: ``[N]`` class labels.
        n: The number of feature rows they must match.
        score: The score's name, for messages.
        min_per_class: Fewest examples every class needs for this score.

    Raises:
        DataError: A shape mismatch, a negative label (-1 marks an unlabeled example),
            fewer than 2 classes, or a class with fewer than ``min_per_class`` examples.
    """
    arr = labels.detach().cpu().numpy() if hasattr(labels, "detach") else np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DataError(f"The labels given to {score} must be a 1-D array of {n} values (one per feature row). "
                        f"Got shape {arr.shape} instead.")
    if arr.dtype.kind in "iuf" and (arr < 0).any():
        raise DataError(f"The labels given to {score} hold negative values ({int((arr < 0).sum())} rows); -1 "
                        "marks an unlabeled example. Fix: pass labeled examples only.")
    classes, y = np.unique(arr, return_inverse=True)
    counts = np.bincount(y, minlength=len(classes))
    if len(classes) < 2:
        raise DataError(f"{score} needs at least 2 classes to compare. Got {len(classes)} "
                        f"({', '.join(map(str, classes[:1]))}). Fix: rank on data with two or more classes.")
    if counts.min() < min_per_class:
        thin = [str(c) for c, k in zip(classes, counts) if k < min_per_class]
        raise DataError(
            f"{score} needs at least {min_per_class} examples of every class. Got {int(counts.min())} for class(es) "
            f"{', '.join(thin[:5])}. Fix: raise --labels-per-class to {min_per_class} or more, or drop {score} from "
            "--scores."
        )
    return y.astype(np.int64), counts


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    """``[N, C]`` float64 indicator matrix of labels ``0..C-1``."""
    out = np.zeros((len(y), num_classes))
    out[np.arange(len(y)), y] = 1.0
    return out


def source_probabilities(probs: ArrayLike | None, n: int, score: str) -> np.ndarray:
    """Checked ``[N, Z]`` probabilities of the source head (rows sum to 1, entries >= 0).

    Raises:
        DataError: Missing, of the wrong shape, or not probabilities (logits, for example).
    """
    if probs is None:
        raise DataError(f"{score} needs the probabilities of the model's source head (its own classes). "
                        "Got none. Fix: pass source_probs, or pick a score that needs only features.")
    arr = as_matrix(probs, "source_probs")
    if arr.shape[0] != n:
        raise DataError(f"'source_probs' must have one row per feature row ({n}). Got {arr.shape[0]} instead.")
    sums = arr.sum(1)
    if (arr < 0).any() or np.abs(sums - 1).max() > _PROB_SUM_TOL:
        raise DataError(f"'source_probs' of {score} must be probabilities (entries >= 0, rows summing to 1). Got "
                        f"rows summing to {sums.min():.3g}..{sums.max():.3g}. Fix: apply a softmax to logits first.")
    return arr / sums[:, None]
