"""H-score and its shrinkage (regularised) form.

H-score (Bao et al., ICIP 2019) is ``tr(cov(f)^+ cov(E[f | y]))``: the between-class
share of the feature covariance, in the metric of the inverse covariance. Both are
computed from one SVD of the centred features ``F = U S V^T`` (so ``D >> N`` costs
``O(N^2 D)``, never a ``D x D`` inverse): with ``P`` the within-class averaging
operator, ``tr(cov(f)^+ cov(Pf)) = ||P U_r||_F^2`` over the non-null singular directions.

When ``D >= N - 1`` the features span every centred direction and the plain H-score
equals ``C - 1`` for every model; the shrinkage H-score (Ibrahim et al., "Newer is not
always better: rethinking transferability metrics", ICLR 2023) replaces ``cov(f)`` with
its Ledoit-Wolf shrinkage ``(1 - a) cov(f) + a mu I`` (and ``cov(E[f|y])`` with
``(1 - a)`` of it), which stays informative there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graft.selection._arrays import ArrayLike, as_matrix
from graft.selection._labels import class_labels, one_hot


def hscore(features: ArrayLike, labels: Any) -> float:
    """H-score, in ``[0, C - 1]``; higher is better."""
    f = as_matrix(features, "features", min_rows=2)
    y, counts = class_labels(labels, f.shape[0], "hscore")
    u, s, _ = np.linalg.svd(f - f.mean(0), full_matrices=False)
    keep = s > s.max(initial=0.0) * max(f.shape) * np.finfo(np.float64).eps
    return float(_class_energy(u[:, keep], y, counts).sum())


def shrinkage_hscore(features: ArrayLike, labels: Any) -> float:
    """H-score with the Ledoit-Wolf shrinkage of the feature covariance; higher is better."""
    from sklearn.covariance import ledoit_wolf_shrinkage

    f = as_matrix(features, "features", min_rows=2)
    y, counts = class_labels(labels, f.shape[0], "shrinkage-hscore")
    n, d = f.shape
    centred = f - f.mean(0)
    a = float(ledoit_wolf_shrinkage(centred, assume_centered=True))
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    eig = s**2 / n  # eigenvalues of cov(f) inside the span (the rest are 0)
    mu = eig.sum() / d
    if mu <= 0:  # constant features separate nothing
        return 0.0
    energy = _class_energy(u, y, counts)  # diag(U^T P U)
    return float(((1 - a) * eig * energy / ((1 - a) * eig + a * mu)).sum())


def _class_energy(u: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``diag(U^T P U)``: per column of ``u``, ``sum_c n_c * mean_{i in c}(u_i)^2``."""
    means = one_hot(y, len(counts)).T @ u / counts[:, None]  # [C, r]
    return (counts[:, None] * means**2).sum(0)
