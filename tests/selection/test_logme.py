"""LogME against a brute-force maximisation of the evidence it claims to maximise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import multivariate_normal

from graft.errors import DataError
from graft.selection.logme import logme, logme_evidence


def brute_force_evidence(f: np.ndarray, t: np.ndarray) -> float:
    """max over (alpha, beta) of log N(t; 0, I / beta + F F^T / alpha), per example."""
    n = f.shape[0]

    def negative(log_params: np.ndarray) -> float:
        alpha, beta = np.exp(log_params)
        return -multivariate_normal(np.zeros(n), np.eye(n) / beta + f @ f.T / alpha).logpdf(t)

    fits = [minimize(negative, x0, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
            for x0 in ([0.0, 0.0], [2.0, -2.0], [-2.0, 2.0])]
    return -min(r.fun for r in fits) / n


@pytest.mark.parametrize(("n", "d"), [(14, 3), (8, 20)])
def test_logme_reaches_the_maximum_evidence_of_a_brute_force_search(n: int, d: int) -> None:
    rng = np.random.default_rng(n)
    f = rng.normal(size=(n, d))
    t = f @ rng.normal(size=d) * 0.5 + rng.normal(size=n)
    evidence, alpha, beta = logme_evidence(f, t[:, None], tol=1e-8, max_iter=1000)
    assert evidence[0] == pytest.approx(brute_force_evidence(f, t), abs=1e-5)
    # The closed form at the reached (alpha, beta) is the Gaussian log-density itself.
    direct = multivariate_normal(np.zeros(n), np.eye(n) / beta[0] + f @ f.T / alpha[0]).logpdf(t) / n
    assert evidence[0] == pytest.approx(direct, rel=1e-9)


def test_logme_classification_is_the_mean_over_one_hot_columns() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, size=30)
    columns = np.eye(3)[y]
    expected = np.mean([logme_evidence(f, columns[:, [c]])[0][0] for c in range(3)])
    assert logme(f, y) == pytest.approx(expected, rel=1e-12)
    assert logme(f, np.array(["a", "b", "c"])[y]) == pytest.approx(expected, rel=1e-12)  # any label values


def test_logme_prefers_features_that_separate_the_classes(make_blobs) -> None:
    x, y = make_blobs(40, width=8)
    shuffled = np.random.default_rng(1).permutation(y)
    noise = np.random.default_rng(2).normal(size=x.shape)
    assert logme(x, y) > logme(x, shuffled)
    assert logme(x, y) > logme(noise, y)


def test_logme_regression_prefers_a_target_the_features_explain() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(size=(60, 5))
    explained = f @ rng.normal(size=5) + 0.1 * rng.normal(size=60)
    unrelated = rng.normal(size=60) * explained.std()
    assert logme(f, explained, regression=True) > logme(f, unrelated, regression=True)
    two = logme(f, np.c_[explained, unrelated], regression=True)
    assert two == pytest.approx((logme(f, explained, regression=True) + logme(f, unrelated, regression=True)) / 2)


def test_logme_is_finite_when_features_are_wider_than_the_examples_or_degenerate() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 5)
    assert np.isfinite(logme(rng.normal(size=(10, 3000)), y))
    assert np.isfinite(logme(np.zeros((10, 4)), y))  # no signal at all: alpha and beta stay finite
    with pytest.raises(DataError, match="at least 2 classes"):
        logme(rng.normal(size=(10, 3)), np.zeros(10))
    with pytest.raises(DataError, match="regression targets"):
        logme(rng.normal(size=(10, 3)), np.ones(9), regression=True)
