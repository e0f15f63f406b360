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


def _dist_numpy(s: np.ndarray, t: np.ndarray, temperature: float) -> float:
    def softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z / temperature - (z / temperature).max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    ps, pt = softmax(s), softmax(t)
    inter = np.mean([np.corrcoef(ps[i], pt[i])[0, 1] for i in range(len(ps))])
    intra = np.mean([np.corrcoef(ps[:, c], pt[:, c])[0, 1] for c in range(ps.shape[1])])
    return temperature**2 * ((1 - inter) + (1 - intra))


def test_dist_loss_matches_numpy_and_ignores_what_correlation_ignores() -> None:
    from graft.losses import dist_loss

    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    got = float(dist_loss(torch.tensor(s), torch.tensor(t), temperature=2.0))
    assert got == pytest.approx(_dist_numpy(s, t, 2.0), rel=1e-5)
    assert float(dist_loss(torch.tensor(t), torch.tensor(t), 2.0)) == pytest.approx(0.0, abs=1e-4)
    student = torch.tensor(s, requires_grad=True)
    dist_loss(student, torch.tensor(t), 2.0).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0


def test_standardized_kd_is_blind_to_the_logits_scale_and_offset() -> None:
    from graft.losses import kd_loss, standardized_kd_loss

    t = torch.randn(5, 7)
    s = 0.2 * t + 3.0  # the same relations at another scale: a small student's typical logits
    assert float(standardized_kd_loss(s, t)) == pytest.approx(0.0, abs=1e-5)
    assert float(kd_loss(s, t, 2.0)) > 0.01  # plain KD asks the student for the teacher's scale too
