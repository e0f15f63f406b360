"""Entropy and information maximization against NumPy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from graft.errors import ConfigError
from graft.losses import entropy, information_maximization


def np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_entropy(p: np.ndarray) -> np.ndarray:
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def logits(n: int = 10, c: int = 4, scale: float = 3.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, c)) * scale


def test_entropy_from_logits_matches_numpy_for_every_reduction() -> None:
    z = logits()
    h = np_entropy(np_softmax(z))
    x = torch.from_numpy(z)
    assert np.allclose(entropy(x, reduction="none").numpy(), h)
    assert entropy(x).item() == pytest.approx(h.mean())
    assert entropy(x, reduction="sum").item() == pytest.approx(h.sum())


def test_entropy_from_probabilities_matches_and_handles_zeros() -> None:
    p = np_softmax(logits())
    assert np.allclose(entropy(torch.from_numpy(p), from_logits=False, reduction="none").numpy(), np_entropy(p))
    one_hot = torch.eye(3)
    assert entropy(one_hot, from_logits=False).item() == 0.0
    assert entropy(torch.zeros(2, 5)).item() == pytest.approx(math.log(5))


def test_entropy_is_stable_for_huge_logits() -> None:
    z = torch.tensor([[1e4, 0.0, -1e4]])
    assert torch.isfinite(entropy(z)).all()


def test_entropy_rejects_unknown_reduction() -> None:
    with pytest.raises(ConfigError, match="reduction"):
        entropy(torch.zeros(2, 2), reduction="avg")


def test_information_maximization_matches_numpy() -> None:
    z = logits(12, 5)
    p = np_softmax(z)
    expected = np_entropy(p).mean() - np_entropy(p.mean(0))
    assert information_maximization(torch.from_numpy(z)).item() == pytest.approx(expected)


def test_information_maximization_prefers_confident_and_diverse_predictions() -> None:
    diverse = torch.eye(4).repeat(3, 1) * 20
    collapsed = torch.zeros(12, 4)
    collapsed[:, 0] = 20
    uniform = torch.zeros(12, 4)
    assert information_maximization(diverse).item() == pytest.approx(-math.log(4), abs=1e-6)
    assert information_maximization(diverse) < information_maximization(collapsed)
    assert information_maximization(diverse) < information_maximization(uniform)
