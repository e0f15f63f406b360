"""Minimum Class Confusion against a NumPy reference written from the paper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graft.errors import ConfigError
from graft.losses import mcc_loss


def np_mcc(z: np.ndarray, temperature: float) -> float:
    n, c = z.shape
    e = np.exp(z / temperature - (z / temperature).max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    h = -(p * np.log(p)).sum(1)
    w = 1 + np.exp(-h)
    w = n * w / w.sum()
    conf = np.zeros((c, c))
    for i in range(n):
        conf += w[i] * np.outer(p[i], p[i])
    conf = conf / conf.sum(1, keepdims=True)
    return float((conf.sum() - np.trace(conf)) / c)


@pytest.mark.parametrize("temperature", [1.0, 2.5, 4.0])
@pytest.mark.parametrize(("n", "c"), [(16, 4), (5, 10), (32, 2)])
def test_mcc_matches_numpy(temperature: float, n: int, c: int) -> None:
    z = np.random.default_rng(n * c).normal(size=(n, c)) * 4
    assert mcc_loss(torch.from_numpy(z), temperature).item() == pytest.approx(np_mcc(z, temperature), rel=1e-10)


def test_mcc_is_small_for_confident_diverse_and_large_for_uniform_predictions() -> None:
    confident = torch.eye(4).repeat(4, 1) * 50
    assert mcc_loss(confident).item() < 1e-3
    assert mcc_loss(torch.zeros(16, 4)).item() == pytest.approx(3 / 4)


def test_mcc_gradient_flows_to_the_logits_and_is_finite() -> None:
    z = torch.randn(8, 3, requires_grad=True)
    mcc_loss(z).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_mcc_rejects_a_bad_temperature() -> None:
    with pytest.raises(ConfigError, match="temperature"):
        mcc_loss(torch.zeros(4, 3), temperature=0.0)
