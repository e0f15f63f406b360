"""SFDA: Self-challenging Fisher Discriminant Analysis (Shao et al., "Not All Models Are Equal:
Predicting Model Transferability in a Self-challenging Fisher Space", ECCV 2022).

1. Regularised FDA: the within-class covariance ``S_w`` is shrunk towards ``mu I``
   (``mu = tr(S_w) / D``) with strength ``lam = exp(-a * lambda_max(S_w))`` (``a = 5`` and the
   largest eigenvalue of ``S_w``, as in the authors' release), and features are projected on
   the discriminant directions; a Bayes classifier in that space gives ``p(y | x)``. With
   every direction kept, projection plus Bayes rule equals linear discriminant analysis with
   the shrunk covariance: ``logit_c = x S^-1 mu_c - mu_c S^-1 mu_c / 2 + log pi_c``.
2. ConfMix, the self-challenge: each example moves towards the mean of the other classes'
   means by one minus its (softened) probability of its own class, so examples the first
   pass found hard become harder; a second pass with the same shrinkage scores them.
3. The score is the mean probability of the true class after the challenge (the authors
   leave out the log for stability), in ``[0, 1]``.

``S^-1`` is applied through one SVD of the within-class residuals (Woodbury), so ``D >> N``
never forms a ``D x D`` matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graft.errors import ConfigError
from graft.selection._arrays import ArrayLike, as_matrix, softmax
from graft.selection._labels import class_labels, one_hot


def sfda(features: ArrayLike, labels: Any, *, a: float = 5.0) -> float:
    """SFDA of ``features`` for ``labels``; in ``[0, 1]``, higher is better.

    Args:
        features: ``[N, D]`` frozen features.
        labels: ``[N]`` class labels.
        a: How fast the shrinkage falls with the largest within-class eigenvalue.
    """
    if not (a > 0 and np.isfinite(a)):
        raise ConfigError(f"The 'a' parameter of sfda must be a number > 0. Got {a!r} instead.")
    f = as_matrix(features, "features", min_rows=2)
    y, counts = class_labels(labels, f.shape[0], "sfda")
    rows = np.arange(len(y))
    first, lam = shrunk_lda_probabilities(f, y, counts, a=a)
    if first is None:  # every example is the same point: nothing tells the classes apart
        return float(1.0 / len(counts))
    confidence = softmax(first)[rows, y]  # softened, as the authors do, so the mixing is gradual
    means = one_hot(y, len(counts)).T @ f / counts[:, None]
    others = (means.sum(0) - means) / (len(counts) - 1)  # [C, D]: mean of the other classes' means
    mixed = confidence[:, None] * f + (1 - confidence[:, None]) * others[y]
    second, _ = shrunk_lda_probabilities(mixed, y, counts, lam=lam)
    if second is None:
        return float(1.0 / len(counts))
    return float(second[rows, y].mean())


def shrunk_lda_probabilities(
    f: np.ndarray, y: np.ndarray, counts: np.ndarray, *, a: float = 5.0, lam: float | None = None
) -> tuple[np.ndarray | None, float]:
    """Posteriors ``[N, C]`` of LDA with the shrunk within-class covariance, and the shrinkage
    used (``exp(-a * lambda_max(S_w))``, at least 1e-10, unless ``lam`` is given).

    Returns ``(None, lam)`` when every example is the same point.
    """
    n, d = f.shape
    hot = one_hot(y, len(counts))
    means = hot.T @ f / counts[:, None]
    residual = f - means[y]
    _, s, vt = np.linalg.svd(residual, full_matrices=False)
    eig = s**2 / n  # eigenvalues of S_w = sum_c pi_c cov_c (biased), inside the residuals' span
    total = float(((f - f.mean(0)) ** 2).sum() / n)
    if total <= 0:
        return None, lam if lam is not None else 1.0
    if lam is None:
        lam = max(float(np.exp(-a * eig.max(initial=0.0))), 1e-10)
    # A class-pure residual of zero (each class a single point) still needs an invertible S.
    mu = max(float(eig.sum()) / d, 1e-12 * total / d)
    nu = lam * mu  # S = (1 - lam) S_w + nu I
    shrink = (1 - lam) * eig / (nu + (1 - lam) * eig)  # Woodbury: S^-1 = (I - V diag(shrink) V^T) / nu
    coef = (means - (means @ vt.T * shrink) @ vt) / nu  # [C, D] = means S^-1
    logits = f @ coef.T - 0.5 * (means * coef).sum(1) + np.log(counts / n)
    return softmax(logits), lam
