"""Logit and feature distillation against NumPy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graft.errors import DataError
from graft.losses import feature_kd_loss, kd_loss


def np_log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def np_kd(student: np.ndarray, teacher: np.ndarray, temperature: float) -> float:
    log_s = np_log_softmax(student / temperature)
    log_t = np_log_softmax(teacher / temperature)
    kl = (np.exp(log_t) * (log_t - log_s)).sum(1).mean()
    return float(kl * temperature**2)


@pytest.mark.parametrize("temperature", [1.0, 4.0, 10.0])
def test_kd_loss_matches_numpy(temperature: float) -> None:
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(6, 5)) * 3, rng.normal(size=(6, 5)) * 3
    got = kd_loss(torch.from_numpy(s), torch.from_numpy(t), temperature).item()
    assert got == pytest.approx(np_kd(s, t, temperature), rel=1e-10)


def test_kd_loss_is_zero_when_the_student_matches_and_trains_the_student_only() -> None:
    t = torch.randn(4, 3)
    assert kd_loss(t.clone(), t).item() == pytest.approx(0.0, abs=1e-6)
    s = torch.randn(4, 3, requires_grad=True)
    kd_loss(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0


def test_feature_kd_loss_is_mse_and_needs_equal_shapes() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 7)), rng.normal(size=(4, 7))
    assert feature_kd_loss(torch.from_numpy(a), torch.from_numpy(b)).item() == pytest.approx(((a - b) ** 2).mean())
    with pytest.raises(DataError, match="same shape"):
        feature_kd_loss(torch.zeros(4, 7), torch.zeros(4, 8))
    with pytest.raises(DataError, match="same shape"):
        kd_loss(torch.zeros(4, 3), torch.zeros(4, 5))
