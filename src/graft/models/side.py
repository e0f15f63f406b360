"""The side-tuning backbone: a frozen base network and a trainable side network whose features
are blended by a learned weight (Zhang et al., 2020), saved and reloaded as one model."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

#: The recipe key that marks a saved side-tuned backbone (``model.json``): ``true`` when the side
#: network is a copy of the base, or ``{"side": RECIPE, "feature_dim": D}`` for a named side
#: network (its own rebuild recipe and feature width).
RECIPE_KEY = "side_tune"


class SideTuneBackbone(nn.Module):
    """``α·base(x) + (1 − α)·project(side(x))`` with ``α = sigmoid(alpha_logit)``.

    Args:
        base: The source network; kept frozen by the strategy that trains this.
        side: The trainable side network.
        alpha: The starting weight of the base's features.
        project: Maps the side's features to the base's width (a zero-initialised linear layer
            when the widths differ, so the blend starts as ``α·base(x)``); None: no projection.
    """

    def __init__(self, base: nn.Module, side: nn.Module, alpha: float = 0.5, project: nn.Module | None = None) -> None:
        super().__init__()
        self.base = base
        self.side = side
        self.project = project if project is not None else nn.Identity()
        a = min(max(alpha, 1e-4), 1 - 1e-4)
        self.alpha_logit = nn.Parameter(torch.logit(torch.tensor(float(a))))

    @property
    def alpha(self) -> float:
        return float(torch.sigmoid(self.alpha_logit.detach()))

    def forward(self, x: Any) -> torch.Tensor:
        a = torch.sigmoid(self.alpha_logit)
        return a * self.base(x) + (1 - a) * self.project(self.side(x))


def side_tune_backbone(backbone: nn.Module, side: nn.Module | None = None, side_dim: int | None = None,
                       base_dim: int | None = None, alpha: float = 0.5) -> SideTuneBackbone:
    """A side-tuning backbone around ``backbone``.

    Args:
        backbone: The base network.
        side: The side network; None: a copy of ``backbone``.
        side_dim: Width of ``side``'s features.
        base_dim: Width of ``backbone``'s features; a zero-initialised ``Linear(side_dim, base_dim)``
            projects the side's features when the two differ.
        alpha: The starting weight of the base's features.
    """
    if side is None:
        return SideTuneBackbone(backbone, copy.deepcopy(backbone), alpha)
    project = None
    if side_dim is not None and base_dim is not None and side_dim != base_dim:
        project = nn.Linear(side_dim, base_dim)
        nn.init.zeros_(project.weight)
        nn.init.zeros_(project.bias)
    return SideTuneBackbone(backbone, side, alpha, project)
