"""How far apart two domains are, measured on feature matrices.

:func:`shift_report` gathers the measures ``graft shift`` and the run report show:
the proxy A-distance (Ben-David et al. 2007; Ganin et al. 2016) and linear and
Gaussian-kernel MMD².
"""

from __future__ import annotations

import numpy as np

from graft.errors import ConfigError, DataError
from graft.selection._arrays import ArrayLike, as_matrix

# Regularisation grid of the domain classifier, as in the DANN paper's PAD protocol.
PAD_C_GRID = (0.01, 0.1, 1.0, 10.0)
# Rows used to pick the median-heuristic bandwidth; the median settles long before.
_MEDIAN_ROWS = 1000
_KERNEL_CHUNK = 2048


def _pair(source_feats: ArrayLike, target_feats: ArrayLike, min_rows: int = 1) -> tuple[np.ndarray, np.ndarray]:
    xs = as_matrix(source_feats, "source_feats", min_rows=min_rows)
    xt = as_matrix(target_feats, "target_feats", min_rows=min_rows)
    if xs.shape[1] != xt.shape[1]:
        raise DataError(
            f"Source and target features must have the same width. Got {xs.shape[1]} and {xt.shape[1]} instead."
        )
    return xs, xt


def _subsample(x: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    if limit is None or len(x) <= limit:
        return x
    return x[np.sort(rng.choice(len(x), size=limit, replace=False))]


def proxy_a_distance(
    source_feats: ArrayLike,
    target_feats: ArrayLike,
    seed: int = 0,
    *,
    max_per_domain: int | None = 5000,
) -> float:
    """Proxy A-distance ``2 (1 - 2 eps)`` in [0, 2]: 0 when a linear classifier cannot
    tell the domains apart, 2 when it separates them perfectly.

    Rows are split 50/50, stratified by domain. A standardised, class-balanced
    logistic regression is fit on one half for each ``C`` in :data:`PAD_C_GRID`, and
    ``eps`` is the lowest balanced error on the other half (the usual protocol; the
    balanced error keeps unequal domain sizes from looking like a shift).

    Args:
        source_feats: Source features ``[Ns, D]``, ``Ns >= 2``.
        target_feats: Target features ``[Nt, D]``, ``Nt >= 2``.
        seed: Seed of the split and of the subsampling.
        max_per_domain: Rows kept per domain (a seeded random subset), or None for all.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if max_per_domain is not None and max_per_domain < 2:
        raise ConfigError(
            f"The 'max_per_domain' parameter of proxy_a_distance must be >= 2 or None. Got {max_per_domain!r} instead."
        )
    xs, xt = _pair(source_feats, target_feats, min_rows=2)
    rng = np.random.default_rng(seed)
    xs, xt = _subsample(xs, max_per_domain, rng), _subsample(xt, max_per_domain, rng)
    x = np.vstack([xs, xt])
    y = np.r_[np.zeros(len(xs), dtype=int), np.ones(len(xt), dtype=int)]
    x_fit, x_held, y_fit, y_held = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(x_fit)
    x_fit, x_held = scaler.transform(x_fit), scaler.transform(x_held)
    errors = []
    for c in PAD_C_GRID:
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=1000).fit(x_fit, y_fit)
        pred = clf.predict(x_held)
        per_domain_error = [np.mean(pred[y_held == d] != d) for d in (0, 1)]
        errors.append(float(np.mean(per_domain_error)))
    return float(np.clip(2.0 * (1.0 - 2.0 * min(errors)), 0.0, 2.0))


def linear_mmd(source_feats: ArrayLike, target_feats: ArrayLike) -> float:
    """MMD² with a linear kernel: squared distance between the domain means."""
    xs, xt = _pair(source_feats, target_feats)
    return float(np.sum((xs.mean(0) - xt.mean(0)) ** 2))


def median_heuristic_gamma(x: np.ndarray) -> float:
    """``1 / (2 sigma^2)`` with ``sigma`` the median pairwise distance of the rows of ``x``.

    At most 1000 rows (a fixed-seed subset) enter the median. Falls back to the mean
    squared distance when over half the pairs coincide, and to 1 when all do.
    """
    from scipy.spatial.distance import pdist

    sub = _subsample(x, _MEDIAN_ROWS, np.random.default_rng(0))
    d2 = pdist(sub, "sqeuclidean")
    scale = float(np.median(d2)) if d2.size else 0.0
    if scale <= 0 and d2.size:
        scale = float(d2.mean())
    return 1.0 / (2.0 * scale) if scale > 0 else 1.0


def _mean_rbf(x: np.ndarray, y: np.ndarray, gamma: float) -> float:
    yy = (y**2).sum(1)
    total = 0.0
    for start in range(0, len(x), _KERNEL_CHUNK):
        xb = x[start : start + _KERNEL_CHUNK]
        d2 = np.maximum((xb**2).sum(1)[:, None] + yy[None, :] - 2.0 * xb @ y.T, 0.0)
        total += float(np.exp(-gamma * d2).sum())
    return total / (len(x) * len(y))


def rbf_mmd(source_feats: ArrayLike, target_feats: ArrayLike, gamma: float | None = None) -> float:
    """Biased MMD² with the Gaussian kernel ``exp(-gamma ||x - y||^2)``.

    Args:
        source_feats: Source features ``[Ns, D]``.
        target_feats: Target features ``[Nt, D]``.
        gamma: Kernel width; None picks it by the median heuristic on both domains
            together (:func:`median_heuristic_gamma`).

    Returns:
        ``mean K_ss + mean K_tt - 2 mean K_st``, >= 0 (up to rounding).
    """
    xs, xt = _pair(source_feats, target_feats)
    if gamma is None:
        gamma = median_heuristic_gamma(np.vstack([xs, xt]))
    elif not (gamma > 0 and np.isfinite(gamma)):
        raise ConfigError(f"The 'gamma' parameter of rbf_mmd must be a number > 0 or None. Got {gamma!r} instead.")
    value = _mean_rbf(xs, xs, gamma) + _mean_rbf(xt, xt, gamma) - 2.0 * _mean_rbf(xs, xt, gamma)
    return max(0.0, float(value))


def shift_report(source_feats: ArrayLike, target_feats: ArrayLike, seed: int = 0) -> dict[str, float]:
    """All domain-shift measures at once: ``proxy_a_distance``, ``mmd_linear``, ``mmd_rbf``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> sorted(shift_report(rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 2))
        ['mmd_linear', 'mmd_rbf', 'proxy_a_distance']
    """
    xs, xt = _pair(source_feats, target_feats, min_rows=2)
    return {
        "proxy_a_distance": proxy_a_distance(xs, xt, seed=seed),
        "mmd_linear": linear_mmd(xs, xt),
        "mmd_rbf": rbf_mmd(xs, xt),
    }
