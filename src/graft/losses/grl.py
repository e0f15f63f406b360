"""Gradient reversal (DANN): identity forward, gradient scaled by ``-coeff`` backward.

Placed between a feature extractor and a domain discriminator, it lets one
optimizer step train the discriminator to tell domains apart while pushing the
features to make them indistinguishable.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from graft.errors import ConfigError


class _GradientReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, coeff: float) -> Tensor:
        ctx.coeff = coeff
        # view_as gives autograd a new node; returning ``x`` itself would skip backward.
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        return grad_output * (-ctx.coeff), None


def grad_reverse(x: Tensor, coeff: float = 1.0) -> Tensor:
    """Return ``x`` unchanged; in backward, multiply its gradient by ``-coeff``.

    Args:
        x: Any tensor (usually the features fed to a domain discriminator).
        coeff: Scale of the reversed gradient (0 turns the adversarial signal off).

    Example:
        >>> x = torch.ones(2, requires_grad=True)
        >>> grad_reverse(x, 0.5).sum().backward()
        >>> x.grad
        tensor([-0.5000, -0.5000])
    """
    return _GradientReverse.apply(x, float(coeff))


class GradientReversal(nn.Module):
    """Module form of :func:`grad_reverse`; set ``coeff`` each step to follow a schedule.

    Args:
        coeff: Initial scale of the reversed gradient.
    """

    def __init__(self, coeff: float = 1.0) -> None:
        super().__init__()
        self.coeff = float(coeff)

    def forward(self, x: Tensor) -> Tensor:
        return grad_reverse(x, self.coeff)

    def extra_repr(self) -> str:
        return f"coeff={self.coeff}"


def grl_schedule(progress: float, alpha: float = 10.0, max_coeff: float = 1.0) -> float:
    """DANN's ramp of the reversal coefficient: ``max_coeff * (2 / (1 + exp(-alpha p)) - 1)``.

    Starts at 0 so the discriminator's early, noisy gradient does not wreck the
    features, and approaches ``max_coeff`` as training progresses.

    Args:
        progress: Fraction of training done; clipped to [0, 1].
        alpha: Steepness of the ramp (10 in the DANN paper).
        max_coeff: Value approached at the end.

    Example:
        >>> grl_schedule(0.0)
        0.0
    """
    if not math.isfinite(progress):
        raise ConfigError(
            f"The 'progress' parameter of grl_schedule must be a finite number. Got {progress!r} instead."
        )
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ConfigError(f"The 'alpha' parameter of grl_schedule must be a number > 0. Got {alpha!r} instead.")
    if not (max_coeff >= 0 and math.isfinite(max_coeff)):
        raise ConfigError(
            f"The 'max_coeff' parameter of grl_schedule must be a number >= 0. Got {max_coeff!r} instead."
        )
    p = min(1.0, max(0.0, float(progress)))
    return float(max_coeff * (2.0 / (1.0 + math.exp(-alpha * p)) - 1.0))
