"""The side-tuning backbone: a frozen base network and a trainable side network whose features
are blended by a learned weight (Zhang et al., 2020), saved and reloaded as one model."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

#: The recipe key that marks a saved side-tuned backbone (``model.json``).
RECIPE_KEY = "side_tune"


class SideTuneBackbone(nn.Module):
    """``α·base(x) + (1 − α)·side(x)`` with ``α = sigmoid(alpha_logit)``.

    Args:
        base: The source network; kept frozen by the strategy that trains this.
        side: The trainable side network, with the base's feature width.
        alpha: The starting weight of the base's features.
    """

    def __init__(self, base: nn.Module, side: nn.Module, alpha: float = 0.5) -> None:
        super().__init__()
        self.base = base
        self.side = side
        a = min(max(alpha, 1e-4), 1 - 1e-4)
        self.alpha_logit = nn.Parameter(torch.logit(torch.tensor(float(a))))

    @property
    def alpha(self) -> float:
        return float(torch.sigmoid(self.alpha_logit.detach()))

    def forward(self, x: Any) -> torch.Tensor:
        a = torch.sigmoid(self.alpha_logit)
        return a * self.base(x) + (1 - a) * self.side(x)


def side_tune_backbone(backbone: nn.Module) -> SideTuneBackbone:
    """A side-tuning backbone around ``backbone`` with a copy of it as the side network (the
    architecture a saved side-tuned model is rebuilt into before its weights load)."""
    return SideTuneBackbone(backbone, copy.deepcopy(backbone))
