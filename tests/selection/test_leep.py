"""LEEP, NCE and NLEEP against NumPy references written out example by example."""

from __future__ import annotations

import numpy as np
import pytest

from graft.errors import DataError
from graft.selection.leep import leep, nce, nleep


def reference_leep(theta: np.ndarray, y: np.ndarray) -> float:
    n, z = theta.shape
    c = y.max() + 1
    joint = np.zeros((c, z))
    for i in range(n):
        joint[y[i]] += theta[i] / n
    conditional = joint / joint.sum(0)
    return float(np.mean([np.log(sum(conditional[y[i], j] * theta[i, j] for j in range(z))) for i in range(n)]))


def reference_nce(z: np.ndarray, y: np.ndarray) -> float:
    total = 0.0
    for zv in np.unique(z):
        p_z = np.mean(z == zv)
        for yv in np.unique(y):
            p_yz = np.mean((z == zv) & (y == yv))
            if p_yz > 0:
                total += p_yz * np.log(p_yz / p_z)
    return total


def random_probs(n: int, z: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(z) * 0.5, size=n)


def test_leep_matches_the_reference() -> None:
    theta = random_probs(40, 6)
    y = np.random.default_rng(1).integers(0, 3, size=40)
    assert leep(theta, y) == pytest.approx(reference_leep(theta, y), rel=1e-12)


def test_leep_is_zero_for_a_source_head_that_already_knows_the_classes() -> None:
    y = np.repeat(np.arange(4), 5)
    theta = np.eye(6)[y + 2]  # source classes 2..5 are the target classes
    assert leep(theta, y) == pytest.approx(0.0, abs=1e-12)
    assert nce(theta, y) == pytest.approx(0.0, abs=1e-12)


def test_nce_matches_the_reference_and_is_minus_the_label_entropy_for_a_constant_head() -> None:
    theta = random_probs(50, 5, seed=3)
    y = np.random.default_rng(4).integers(0, 4, size=50)
    assert nce(theta, y) == pytest.approx(reference_nce(theta.argmax(1), y), rel=1e-12)
    constant = np.tile([0.1, 0.7, 0.2], (50, 1))
    p = np.bincount(y) / 50
    assert nce(constant, y) == pytest.approx((p * np.log(p)).sum(), rel=1e-12)


def test_leep_refuses_logits_and_a_row_count_mismatch() -> None:
    y = np.repeat([0, 1], 5)
    with pytest.raises(DataError, match="softmax"):
        leep(np.random.default_rng(0).normal(size=(10, 3)), y)
    with pytest.raises(DataError, match="labels given to nce"):
        nce(random_probs(10, 3), y[:9])


def test_nleep_prefers_separable_features_and_is_seeded(make_blobs) -> None:
    x, y = make_blobs(30, width=10)
    shuffled = np.random.default_rng(0).permutation(y)
    assert nleep(x, y) > nleep(x, shuffled) + 0.3
    assert nleep(x, y, seed=3) == nleep(x, y, seed=3)
    assert -np.log(3) - 1e-9 <= nleep(x, shuffled) <= 0.0


def test_nleep_copes_with_far_more_dimensions_than_examples() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 4)
    value = nleep(rng.normal(size=(12, 2000)) + np.eye(3)[y] @ rng.normal(size=(3, 2000)) * 3, y)
    assert np.isfinite(value) and value <= 0.0
