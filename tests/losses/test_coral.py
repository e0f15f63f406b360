"""CORAL against a NumPy reference; zero for equal covariances; the relative gap ignores the features' scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graft.errors import DataError
from graft.losses import coral, covariance, relative_coral


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


def test_relative_coral_matches_numpy_and_ignores_the_scale() -> None:
    rng = np.random.default_rng(3)
    s, t = rng.normal(size=(30, 4)), rng.normal(size=(25, 4)) @ rng.normal(size=(4, 4))
    cs, ct = np.cov(s, rowvar=False), np.cov(t, rowvar=False)
    want = ((cs - ct) ** 2).sum() / ((cs**2).sum() + (ct**2).sum())
    got = relative_coral(torch.from_numpy(s), torch.from_numpy(t)).item()
    assert got == pytest.approx(want, rel=1e-10) and 0 < got <= 2
    for scale in (1e-3, 1e3):  # the paper's loss moves by scale**4; the relative gap stays
        scaled = relative_coral(torch.from_numpy(s * scale), torch.from_numpy(t * scale)).item()
        assert scaled == pytest.approx(want, rel=1e-8)
    assert coral(torch.from_numpy(s * 1e-3), torch.from_numpy(t * 1e-3)).item() < 1e-10


def test_relative_coral_bounds_and_gradient() -> None:
    s = torch.randn(16, 5, dtype=torch.float64)
    assert relative_coral(s, s + 3.0).item() == pytest.approx(0.0, abs=1e-12)
    assert relative_coral(s, torch.zeros(16, 5, dtype=torch.float64)).item() == pytest.approx(1.0)
    assert relative_coral(torch.zeros(4, 5), torch.zeros(4, 5)).item() == 0.0  # no 0/0
    x = torch.randn(8, 3, requires_grad=True)
    relative_coral(x, torch.randn(10, 3) * 2).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
