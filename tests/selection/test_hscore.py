"""H-score and shrinkage H-score against the textbook covariance formulas."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import ledoit_wolf

from graft.selection.hscore import hscore, shrinkage_hscore


def class_means(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    g = np.zeros_like(f)
    for c in np.unique(y):
        g[y == c] = f[y == c].mean(0)
    return g


def reference_hscore(f: np.ndarray, y: np.ndarray) -> float:
    f = f.astype(np.float64)
    f = f - f.mean(0)
    return float(np.trace(np.linalg.pinv(np.cov(f, rowvar=False)) @ np.cov(class_means(f, y), rowvar=False)))


def reference_shrinkage_hscore(f: np.ndarray, y: np.ndarray) -> float:
    f = f.astype(np.float64)
    f = f - f.mean(0)
    shrunk, a = ledoit_wolf(f, assume_centered=True)
    g = class_means(f, y)
    return float(np.trace(np.linalg.inv(shrunk) @ ((1 - a) * g.T @ g / len(f))))


def test_hscore_matches_the_covariance_formula(make_blobs) -> None:
    x, y = make_blobs(20, width=5, noise=2.0)
    assert hscore(x, y) == pytest.approx(reference_hscore(x, y), rel=1e-8)


def test_shrinkage_hscore_matches_the_covariance_formula(make_blobs) -> None:
    x, y = make_blobs(20, width=5, noise=2.0)
    assert shrinkage_hscore(x, y) == pytest.approx(reference_shrinkage_hscore(x, y), rel=1e-8)
    wide = np.random.default_rng(0).normal(size=(15, 40)) + np.eye(3)[np.repeat([0, 1, 2], 5)] @ np.ones((3, 40))
    y_wide = np.repeat([0, 1, 2], 5)
    assert shrinkage_hscore(wide, y_wide) == pytest.approx(reference_shrinkage_hscore(wide, y_wide), rel=1e-8)


def test_hscore_saturates_when_d_exceeds_n_and_shrinkage_keeps_telling_models_apart() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 6)
    signal = np.eye(4)[y] @ rng.normal(size=(4, 300)) * 2
    good, bad = signal + rng.normal(size=(24, 300)), rng.normal(size=(24, 300))
    assert hscore(good, y) == pytest.approx(3.0) and hscore(bad, y) == pytest.approx(3.0)
    assert shrinkage_hscore(good, y) > shrinkage_hscore(bad, y)


def test_hscores_ignore_the_feature_scale_and_give_zero_for_constant_features(make_blobs) -> None:
    x, y = make_blobs(20, width=5, noise=2.0)
    assert hscore(1000 * x, y) == pytest.approx(hscore(x, y), rel=1e-8)
    assert shrinkage_hscore(1000 * x, y) == pytest.approx(shrinkage_hscore(x, y), rel=1e-8)
    assert hscore(np.ones((10, 3)), np.repeat([0, 1], 5)) == 0.0
    assert shrinkage_hscore(np.ones((10, 3)), np.repeat([0, 1], 5)) == 0.0
