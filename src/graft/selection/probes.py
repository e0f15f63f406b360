"""Probes that fit something small on the frozen features and measure its accuracy:
a leave-one-out k-nearest-neighbour vote and a cross-validated logistic regression.

They cost more than the closed-form scores but answer the question the user asks
("how well would a head on these features do?") directly, in accuracy units.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graft.errors import ConfigError
from graft.selection._arrays import ArrayLike, as_matrix
from graft.selection._labels import class_labels, one_hot

_CHUNK = 1024  # rows of the similarity matrix held at once: [chunk, N], never [N, N]


def knn_probe(features: ArrayLike, labels: Any, *, k: int | None = None) -> float:
    """Leave-one-out accuracy of a cosine k-nearest-neighbour vote; in ``[0, 1]``.

    Each example is classified by its ``k`` most similar other examples (ties go to the
    class of the nearer neighbours).

    Args:
        features: ``[N, D]`` frozen features.
        labels: ``[N]`` class labels, at least 2 examples of each (a left-out example
            must have a neighbour of its class).
        k: Neighbours that vote; by default ``min(5, smallest class - 1)``, so a few-shot
            class is not outvoted by neighbours it cannot have.
    """
    f = as_matrix(features, "features", min_rows=3)
    y, counts = class_labels(labels, f.shape[0], "knn", min_per_class=2)
    if k is None:
        k = int(min(5, max(1, counts.min() - 1)))
    if not 1 <= k < f.shape[0]:
        raise ConfigError(f"The 'k' parameter of knn_probe must be in [1, {f.shape[0] - 1}]. Got {k!r} instead.")
    unit = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    hot = one_hot(y, len(counts))
    # Each vote is 1 plus 2^-(rank+1): the extras sum to < 1, so they decide only between
    # classes with equal counts, in favour of the one with the nearest neighbour.
    weights = 1.0 + 2.0 ** -np.arange(1, k + 1)
    correct = 0
    for start in range(0, f.shape[0], _CHUNK):
        sim = unit[start : start + _CHUNK] @ unit.T
        rows = np.arange(sim.shape[0])
        sim[rows, start + rows] = -np.inf  # leave the example itself out
        nearest = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sim, nearest, 1), axis=1)
        nearest = np.take_along_axis(nearest, order, 1)
        votes = (hot[nearest] * weights[None, :, None]).sum(1)  # [chunk, C]
        correct += int((votes.argmax(1) == y[start : start + _CHUNK]).sum())
    return correct / f.shape[0]


def linear_probe(features: ArrayLike, labels: Any, *, folds: int = 5, c: float = 1.0, seed: int = 0) -> float:
    """Stratified k-fold accuracy of a logistic regression on standardised features; in ``[0, 1]``.

    Args:
        features: ``[N, D]`` frozen features.
        labels: ``[N]`` class labels, at least 2 examples of each.
        folds: Folds, at most the smallest class count.
        c: Inverse L2 strength of scikit-learn's ``LogisticRegression``.
        seed: Seeds the fold assignment.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if folds < 2:
        raise ConfigError(f"The 'folds' parameter of linear_probe must be >= 2. Got {folds!r} instead.")
    f = as_matrix(features, "features", min_rows=4)
    y, counts = class_labels(labels, f.shape[0], "linear", min_per_class=2)
    splitter = StratifiedKFold(n_splits=int(min(folds, counts.min())), shuffle=True, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
    return float(cross_val_score(model, f, y, cv=splitter, scoring="accuracy").mean())
