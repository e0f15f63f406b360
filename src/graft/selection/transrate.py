"""TransRate (Huang et al., "Frustratingly Easy Transferability Estimation", ICML 2022).

The mutual information between features and labels, estimated by coding rates:
``TrR = R(Z) - 1/C sum_c R(Z_c)`` with ``R(Z) = 1/2 logdet(I + Z^T Z / (n eps))`` over the
centred features ``Z`` (the class-conditional term weights classes equally, as the
authors' code does). The rate is computed from the singular values of ``Z``, so ``D >> N``
costs no ``D x D`` determinant. Features are first scaled to unit Frobenius norm, so the
score does not depend on a model's feature scale (with a fixed ``eps``, a model whose
features are 10x larger would otherwise look more informative).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graft.errors import ConfigError
from graft.selection._arrays import ArrayLike, as_matrix
from graft.selection._labels import class_labels


def transrate(features: ArrayLike, labels: Any, *, eps: float = 1e-4) -> float:
    """TransRate of ``features`` for ``labels``; higher is better.

    Args:
        features: ``[N, D]`` frozen features.
        labels: ``[N]`` class labels.
        eps: The distortion of the coding rate (the authors' 1e-4).
    """
    if not (eps > 0 and np.isfinite(eps)):
        raise ConfigError(f"The 'eps' parameter of transrate must be a number > 0. Got {eps!r} instead.")
    f = as_matrix(features, "features", min_rows=2)
    y, counts = class_labels(labels, f.shape[0], "transrate")
    z = f - f.mean(0)
    norm = np.linalg.norm(z)
    if norm == 0:  # every example maps to one point: no information about the labels
        return 0.0
    z = z / norm
    conditional = sum(coding_rate(z[y == c], eps) for c in range(len(counts)))
    return float(coding_rate(z, eps) - conditional / len(counts))


def coding_rate(z: np.ndarray, eps: float) -> float:
    """``1/2 logdet(I + Z^T Z / (n eps))``, from the singular values of ``Z`` ``[n, d]``."""
    s = np.linalg.svd(z, compute_uv=False)
    return float(0.5 * np.log1p(s**2 / (z.shape[0] * eps)).sum())
