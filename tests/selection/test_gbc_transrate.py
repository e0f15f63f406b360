"""GBC and TransRate against direct NumPy evaluations of the papers' formulas."""

from __future__ import annotations

import numpy as np
import pytest

from graft.errors import DataError
from graft.selection.gbc import gbc
from graft.selection.transrate import coding_rate, transrate


def reference_gbc(f: np.ndarray, y: np.ndarray) -> float:
    stats = [(f[y == c].mean(0), f[y == c].var(0, ddof=1)) for c in np.unique(y)]
    total = 0.0
    for i, (mi, vi) in enumerate(stats):
        for j, (mj, vj) in enumerate(stats):
            if i != j:
                s = (vi + vj) / 2
                db = ((mi - mj) ** 2 / s).sum() / 8 + 0.5 * np.log(np.prod(s) / np.sqrt(np.prod(vi) * np.prod(vj)))
                total += np.exp(-db)
    return -total


def reference_transrate(f: np.ndarray, y: np.ndarray, eps: float = 1e-4) -> float:
    def rate(z: np.ndarray) -> float:
        n, d = z.shape
        return 0.5 * np.linalg.slogdet(np.eye(d) + z.T @ z / (n * eps))[1]

    f = f.astype(np.float64)
    z = f - f.mean(0)
    z = z / np.linalg.norm(z)
    classes = np.unique(y)
    return rate(z) - sum(rate(z[y == c]) for c in classes) / len(classes)


def test_gbc_matches_the_bhattacharyya_formula(make_blobs) -> None:
    x, y = make_blobs(15, width=4, noise=2.0)
    x = x.astype(np.float64)
    assert gbc(x, y, max_dim=None) == pytest.approx(reference_gbc(x - x.mean(0), y), rel=1e-9)


def test_gbc_is_near_zero_for_separated_classes_and_near_its_minimum_for_one_cloud(make_blobs) -> None:
    x, y = make_blobs(30, width=6, spread=20.0)
    assert gbc(x, y) > -1e-6
    cloud = np.random.default_rng(0).normal(size=(300, 6))
    overlap = gbc(cloud, np.repeat([0, 1, 2], 100))
    assert -6.0 <= overlap < -5.5  # C (C - 1) = 6 ordered pairs, each coefficient near 1


def test_gbc_needs_two_examples_per_class() -> None:
    with pytest.raises(DataError, match="at least 2 examples of every class.*labels-per-class"):
        gbc(np.random.default_rng(0).normal(size=(5, 3)), [0, 0, 1, 1, 2])


def test_transrate_matches_the_logdet_formula_and_its_gram_shortcut(make_blobs) -> None:
    x, y = make_blobs(20, width=5)
    assert transrate(x, y) == pytest.approx(reference_transrate(x, y), rel=1e-9)
    wide = np.random.default_rng(1).normal(size=(12, 50))
    assert coding_rate(wide, 1e-2) == pytest.approx(
        0.5 * np.linalg.slogdet(np.eye(50) + wide.T @ wide / (12 * 1e-2))[1], rel=1e-9)


def test_transrate_prefers_informative_features_and_ignores_their_scale(make_blobs) -> None:
    x, y = make_blobs(30, width=6)
    shuffled = np.random.default_rng(0).permutation(y)
    assert transrate(x, y) > transrate(x, shuffled)
    assert transrate(50 * x, y) == pytest.approx(transrate(x, y), rel=1e-9)
    assert transrate(np.ones((6, 3)), [0, 0, 0, 1, 1, 1]) == 0.0
