"""LogME: the log marginal evidence of a Bayesian linear model on frozen features.

You et al., "LogME: Practical Assessment of Pre-trained Models for Transfer Learning"
(ICML 2021), with the fast fixed-point updates of the journal version ("Ranking and
Tuning Pre-trained Models", JMLR 2022). For every target column ``y`` (a one-hot class
indicator, or a regression target) the model is ``y = F w + noise`` with prior
``w ~ N(0, I / alpha)`` and noise precision ``beta``; the evidence
``log N(y; 0, I / beta + F F^T / alpha)`` is maximised over ``(alpha, beta)``. One SVD
of ``F`` serves every column and every iteration, so a step costs ``O(min(N, D))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graft.errors import DataError
from graft.selection._arrays import ArrayLike, as_matrix
from graft.selection._labels import class_labels, one_hot

_EPS = 1e-10  # keeps alpha and beta finite when a target lies inside or outside the feature span


def logme(
    features: ArrayLike, labels: Any, *, regression: bool = False, max_iter: int = 100, tol: float = 1e-3
) -> float:
    """LogME of ``features`` for ``labels``: the mean over target columns of the maximised
    log evidence per example. Higher means a better start for a linear head.

    Args:
        features: ``[N, D]`` frozen features.
        labels: ``[N]`` class labels; with ``regression`` a ``[N]`` or ``[N, K]`` real target.
        regression: Treat ``labels`` as real-valued targets instead of classes.
        max_iter: Most fixed-point iterations.
        tol: Stop when ``alpha / beta`` changes by less than this share.

    Example:
        >>> x = np.r_[np.zeros((5, 2)), np.ones((5, 2))] + np.random.default_rng(0).normal(0, .1, (10, 2))
        >>> logme(x, [0] * 5 + [1] * 5) > logme(x, [0, 1] * 5)
        True
    """
    f = as_matrix(features, "features", min_rows=2)
    if regression:
        targets = np.asarray(labels, dtype=np.float64)
        targets = targets[:, None] if targets.ndim == 1 else targets
        if targets.ndim != 2 or targets.shape[0] != f.shape[0] or not np.isfinite(targets).all():
            raise DataError(f"LogME regression targets must be finite, [N] or [N, K] with N={f.shape[0]}. "
                            f"Got shape {targets.shape}.")
    else:
        y, counts = class_labels(labels, f.shape[0], "logme")
        targets = one_hot(y, len(counts))
    evidence, _, _ = logme_evidence(f, targets, max_iter=max_iter, tol=tol)
    return float(evidence.mean())


def logme_evidence(
    features: np.ndarray, targets: np.ndarray, *, max_iter: int = 100, tol: float = 1e-3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximised log evidence per example, and the ``alpha`` and ``beta`` reached, of each
    target column (vectorised over columns).

    Args:
        features: ``[N, D]`` float64.
        targets: ``[N, K]`` float64.

    Returns:
        ``(evidence [K], alpha [K], beta [K])``; ``evidence`` is divided by ``N``.
    """
    n, d = features.shape
    u, s, _ = np.linalg.svd(features, full_matrices=False)
    # Directions with a null singular value are outside the span (they carry no signal, and
    # their log(alpha) terms in the evidence cancel), so only the r non-null ones are kept.
    keep = s > s.max(initial=0.0) * max(n, d) * np.finfo(np.float64).eps
    u, s = u[:, keep], s[keep]
    sigma = (s**2)[:, None]  # [r, 1]: eigenvalues of F^T F inside the span
    x2 = (u.T @ targets) ** 2  # [r, K]: the targets' energy along each singular direction
    outside = np.maximum((targets**2).sum(0) - x2.sum(0), 0.0)  # [K]: energy outside the span
    alpha = np.ones(targets.shape[1])
    beta = np.ones(targets.shape[1])
    active = np.ones(targets.shape[1], dtype=bool)  # each column stops on its own
    for _ in range(max_iter):
        gamma, m2, res2 = _moments(alpha[active], beta[active], sigma, x2[:, active], outside[active])
        new_alpha = gamma / (m2 + _EPS)
        new_beta = (n - gamma) / (res2 + _EPS)
        ratio, new_ratio = alpha[active] / beta[active], new_alpha / new_beta
        alpha[active], beta[active] = new_alpha, new_beta
        active[np.flatnonzero(active)[np.abs(new_ratio - ratio) <= tol * ratio]] = False
        if not active.any():
            break
    r = sigma.shape[0]
    if r == 0:  # features without any signal: alpha plays no part
        alpha = np.ones_like(alpha)
    _, m2, res2 = _moments(alpha, beta, sigma, x2, outside)
    # D/2 log(alpha) - 1/2 log|alpha I + beta F^T F|, with the D - r null directions cancelled.
    logdet = np.log(alpha + beta * sigma).sum(0)
    evidence = (r / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi)
                - beta / 2 * res2 - alpha / 2 * m2 - logdet / 2)
    return evidence / n, alpha, beta


def _moments(alpha: np.ndarray, beta: np.ndarray, sigma: np.ndarray, x2: np.ndarray,
             outside: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``gamma`` (effective parameter count), ``|m|^2`` (posterior mean's norm) and
    ``|F m - y|^2`` (residual) at ``(alpha, beta)``."""
    t = alpha + beta * sigma
    gamma = (beta * sigma / t).sum(0)
    m2 = (beta**2 * sigma * x2 / t**2).sum(0)
    res2 = (alpha**2 * x2 / t**2).sum(0) + outside
    return gamma, m2, res2
