"""CORAL against a NumPy reference; zero for equal covariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graft.errors import DataError
from graft.losses import coral, covariance


def np_coral(s: np.ndarray, t: np.ndarray) -> float:
    d = s.shape[1]
    return float(((np.cov(s, rowvar=False) - np.cov(t, rowvar=False)) ** 2).sum() / (4 * d * d))


@pytest.mark.parametrize(("ns", "nt", "d"), [(20, 20, 4), (8, 30, 3), (2, 5, 6)])
def test_coral_matches_numpy(ns: int, nt: int, d: int) -> None:
    rng = np.random.default_rng(ns + nt)
    s = rng.normal(size=(ns, d))
    t = rng.normal(size=(nt, d)) @ rng.normal(size=(d, d))
    assert coral(torch.from_numpy(s), torch.from_numpy(t)).item() == pytest.approx(np_coral(s, t), rel=1e-10)
    assert np.allclose(covariance(torch.from_numpy(s)).numpy(), np.cov(s, rowvar=False))


def test_coral_is_zero_for_the_same_covariance() -> None:
    s = torch.randn(16, 5, dtype=torch.float64)
    assert coral(s, s + 3.0).item() == pytest.approx(0.0, abs=1e-12)  # a mean shift is invisible
    assert coral(s, s[torch.randperm(16)]).item() == pytest.approx(0.0, abs=1e-12)
    assert coral(s, 2 * s).item() > 0


def test_coral_is_differentiable() -> None:
    s = torch.randn(8, 3, requires_grad=True)
    coral(s, torch.randn(10, 3) * 2).backward()
    assert s.grad is not None and torch.isfinite(s.grad).all()


def test_coral_needs_two_rows_and_equal_widths() -> None:
    with pytest.raises(DataError, match="at least 2 rows"):
        coral(torch.zeros(1, 3), torch.zeros(4, 3))
    with pytest.raises(DataError, match="width"):
        coral(torch.zeros(4, 3), torch.zeros(4, 2))
