"""SFDA against the paper's two passes written with a D x D covariance and its discriminant directions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from graft.selection.sfda import sfda, shrunk_lda_probabilities


def reference_posteriors(f: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Project on the generalized eigenvectors of (S_b, S_w shrunk), then the Bayes rule."""
    classes = np.unique(y)
    _, d = f.shape
    means = np.stack([f[y == c].mean(0) for c in classes])
    priors = np.array([np.mean(y == c) for c in classes])
    sw = sum(p * np.cov(f[y == c].T, bias=True) for p, c in zip(priors, classes))
    shrunk = (1 - lam) * sw + lam * np.trace(sw) / d * np.eye(d)
    sb = np.cov(f.T, bias=True) - sw
    _, vecs = linalg.eigh(sb, shrunk)  # V^T S V = I
    z, zm = f @ vecs, means @ vecs
    logits = z @ zm.T - 0.5 * (zm**2).sum(1) + np.log(priors)
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def reference_sfda(f: np.ndarray, y: np.ndarray) -> float:
    classes = np.unique(y)
    sw = sum(np.mean(y == c) * np.cov(f[y == c].T, bias=True) for c in classes)
    lam = max(np.exp(-5 * np.linalg.eigvalsh(sw).max()), 1e-10)
    p = reference_posteriors(f, y, lam)
    soft = np.exp(p) / np.exp(p).sum(1, keepdims=True)
    means = np.stack([f[y == c].mean(0) for c in classes])
    mixed = f.copy()
    for i in range(len(f)):
        others = (means.sum(0) - means[y[i]]) / (len(classes) - 1)
        mixed[i] = soft[i, y[i]] * f[i] + (1 - soft[i, y[i]]) * others
    return float(np.mean(reference_posteriors(mixed, y, lam)[np.arange(len(f)), y]))


def test_sfda_matches_the_two_pass_reference(make_blobs) -> None:
    x, y = make_blobs(15, width=4, noise=0.4, spread=0.5)  # a scale where the shrinkage is not ~0
    x = x.astype(np.float64)
    assert sfda(x, y) == pytest.approx(reference_sfda(x, y), rel=1e-8)


def test_lda_through_woodbury_equals_the_discriminant_projection_when_d_exceeds_n() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 4)
    f = rng.normal(size=(12, 30)) + np.eye(3)[y] @ rng.normal(size=(3, 30))
    probs, _ = shrunk_lda_probabilities(f, y, np.bincount(y), lam=0.3)
    assert probs is not None
    assert np.allclose(probs, reference_posteriors(f, y, 0.3), atol=1e-8)


def test_sfda_prefers_separable_features_and_handles_degenerate_ones(make_blobs) -> None:
    x, y = make_blobs(20, width=6)
    assert sfda(x, y) > 0.9 > sfda(x, np.random.default_rng(0).permutation(y))
    assert sfda(np.ones((6, 3)), [0, 0, 1, 1, 2, 2]) == pytest.approx(1 / 3)
    assert np.isfinite(sfda(np.random.default_rng(0).normal(size=(9, 2000)), np.repeat([0, 1, 2], 3)))
