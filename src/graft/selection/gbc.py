"""GBC: Gaussian Bhattacharyya coefficient (Pándy et al., "Transferability Estimation using
Bhattacharyya Class Separability", CVPR 2022).

Each class is a Gaussian with diagonal covariance in the feature space; the score is
``-sum_{i != j} BC(c_i, c_j)`` with ``BC = exp(-D_B)`` and the Bhattacharyya distance
``D_B = 1/8 dmu^T S^-1 dmu + 1/2 ln(det S / sqrt(det S_i det S_j))``, ``S = (S_i + S_j) / 2``.
Overlapping classes give a large coefficient, so higher (closer to 0) is better.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graft.selection._arrays import ArrayLike, as_matrix
from graft.selection._labels import class_labels, one_hot
from graft.selection.leep import pca_reduce

# Variances are floored at this share of the mean variance, so a class of identical
# examples (or a dead feature) gives a large, finite distance instead of a division by 0.
_VAR_FLOOR = 1e-6


def gbc(features: ArrayLike, labels: Any, *, max_dim: int | None = 64) -> float:
    """GBC of ``features`` for ``labels``; in ``[-C(C-1), 0]``, higher is better.

    Args:
        features: ``[N, D]`` frozen features.
        labels: ``[N]`` class labels, at least 2 examples of each (a variance needs two).
        max_dim: Project on at most this many principal directions first (None: keep all);
            graft's choice, so that the per-class variances of few examples stay estimable
            and the sum over dimensions is not dominated by noise directions.
    """
    f = as_matrix(features, "features", min_rows=2)
    y, counts = class_labels(labels, f.shape[0], "gbc", min_per_class=2)
    z = pca_reduce(f, max_dim=max_dim) if max_dim else f - f.mean(0)
    hot = one_hot(y, len(counts))
    mean = hot.T @ z / counts[:, None]  # [C, p]
    var = (hot.T @ z**2 - counts[:, None] * mean**2) / (counts[:, None] - 1)  # unbiased, [C, p]
    var = np.maximum(var, _VAR_FLOOR * max(float(var.mean()), np.finfo(np.float64).tiny))
    log_var = np.log(var)
    total = 0.0
    for i in range(len(counts)):  # one row of class pairs at a time: O(C p) memory
        pair = (var[i] + var) / 2
        distance = (((mean[i] - mean) ** 2 / pair).sum(1) / 8
                    + (np.log(pair) - (log_var[i] + log_var) / 2).sum(1) / 2)
        coefficient = np.exp(-distance)
        coefficient[i] = 0.0
        total += float(coefficient.sum())
    return -total
