"""An exponential moving average of the weights (``--ema-decay``).

Averaging the weights over the last few hundred steps smooths a noisy trajectory (few labels,
pseudo-labels) into a model that validates and tests higher than most of the iterates it averages
(Polyak averaging; FixMatch evaluates such an average; timm's ``--model-ema``). The engine
validates, selects, checkpoints and saves the average in place of the raw weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """The running average of a module's floating-point parameters and buffers.

    The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so that the
    first steps, far from where training goes, are soon forgotten.
    """

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        # state_dict() tensors share storage with the module's: writing them writes the module.
        self._live = [t for t in module.state_dict().values() if t.is_floating_point()]
        self._average = [t.detach().clone() for t in self._live]

    @torch.no_grad()
    def update(self) -> None:
        """Fold the module's current weights into the average (after each optimizer step)."""
        self.updates += 1
        weight = 1.0 - min(self.decay, (1 + self.updates) / (10 + self.updates))
        for avg, live in zip(self._average, self._live, strict=True):
            avg.lerp_(live, weight)

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The module holds the average inside the block and its own weights again after it."""
        backup = [t.clone() for t in self._live]
        self.copy_to_module()
        try:
            yield
        finally:
            with torch.no_grad():
                for live, saved in zip(self._live, backup, strict=True):
                    live.copy_(saved)

    @torch.no_grad()
    def copy_to_module(self) -> None:
        """Make the average the module's weights."""
        for live, avg in zip(self._live, self._average, strict=True):
            live.copy_(avg)

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "average": [t.detach().cpu() for t in self._average]}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        for avg, saved in zip(self._average, state["average"], strict=True):
            avg.copy_(saved)
