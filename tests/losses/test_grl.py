"""Gradient reversal: identity forward, -coeff times the gradient backward; DANN's ramp."""

from __future__ import annotations

import math

import pytest
import torch

from graft.errors import ConfigError
from graft.losses import GradientReversal, grad_reverse, grl_schedule


@pytest.mark.parametrize("coeff", [0.0, 0.3, 1.0, 2.5])
def test_grad_reverse_is_identity_forward_and_flips_and_scales_the_gradient(coeff: float) -> None:
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(4, 3, dtype=torch.float64)
    y = grad_reverse(x, coeff)
    assert torch.equal(y, x)
    (y * upstream).sum().backward()
    assert torch.allclose(x.grad, -coeff * upstream)


def test_gradient_upstream_of_the_reversal_is_reversed_downstream_is_not() -> None:
    w = torch.tensor(2.0, requires_grad=True)
    v = torch.tensor(3.0, requires_grad=True)
    x = torch.tensor(1.5)
    out = v * grad_reverse(w * x, 0.5)
    out.backward()
    assert v.grad.item() == pytest.approx(w.item() * x.item())  # after the GRL: unchanged
    assert w.grad.item() == pytest.approx(-0.5 * v.item() * x.item())  # before it: reversed


def test_module_coeff_is_settable_between_steps() -> None:
    grl = GradientReversal(coeff=1.0)
    x = torch.ones(3, requires_grad=True)
    grl(x).sum().backward()
    assert torch.allclose(x.grad, -torch.ones(3))
    x.grad = None
    grl.coeff = 0.25
    grl(x).sum().backward()
    assert torch.allclose(x.grad, -0.25 * torch.ones(3))
    assert "coeff=0.25" in repr(grl)
    assert list(grl.parameters()) == []


def test_grl_schedule_ramps_from_zero_towards_max_coeff() -> None:
    assert grl_schedule(0.0) == 0.0
    assert grl_schedule(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert grl_schedule(1.0) > 0.999
    assert grl_schedule(0.5, alpha=10.0, max_coeff=0.5) == pytest.approx(0.5 * (2 / (1 + math.exp(-5)) - 1))
    values = [grl_schedule(p / 20) for p in range(21)]
    assert values == sorted(values)
    assert grl_schedule(1.7) == grl_schedule(1.0)  # progress is clipped
    assert grl_schedule(-0.2) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"progress": float("nan")}, "progress"), ({"progress": 0.5, "alpha": 0.0}, "alpha"),
     ({"progress": 0.5, "max_coeff": -1.0}, "max_coeff")],
)
def test_grl_schedule_rejects_bad_values(kwargs: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        grl_schedule(**kwargs)
