"""Which epoch's weights a run keeps.

The best epoch by the monitored metric wins, with one exception: when the starting
weights compete (a probe-fitted head in LP-FT, epoch 0), a fine-tuned epoch replaces
them only when its validation gain is larger than the noise of the validation set.
A few dozen validation examples make a one-example gain meaningless, and on few-label
tasks the best of 30 noisy epochs beats the start by chance alone; keeping the start
then is what keeps fine-tuning from falling below the probe it started from.

Ties on the monitored metric (a validation set of 8 or 20 examples puts many epochs at
100 % accuracy) are broken by a second, finer metric, the validation loss: without it the
earliest of the tied epochs was kept, an undertrained model (iris: 0.858 instead of 0.947).

The noise is the standard error of the paired per-example difference between the
epoch and the start (correct/incorrect for accuracy, the cross-entropy for the loss),
so an epoch that fixes ten examples and breaks none clears it where one that fixes six
and breaks five does not.

With ``loss_clears`` (a strategy's ``loss_clears_start``), an epoch whose accuracy is at
least the start's also clears it when its paired per-example validation loss is lower by
more than the margin. On B3 (BBC news, K=10, seed 1) the probe
start had 109 of 112 validation articles right; the tuned epochs got 110 and halved the
loss (0.695 → 0.310) on every epoch from the sixth, a one-article gain the accuracy test
cannot tell from noise: the run kept the probe at 0.902 test accuracy where the tuned model
scores 0.946.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Candidate:
    epoch: int
    value: float
    state: dict[str, torch.Tensor]
    #: The gain over the start exceeds ``margin_se`` standard errors (True without a start).
    clears_start: bool = True
    #: The tie-break metric (lower is better), e.g. the validation loss; None if there is none.
    tie: float | None = None


@dataclass
class EpochSelector:
    """Tracks the start and the best epoch; ``chosen()`` says which to restore.

    Args:
        mode: ``max`` or ``min``.
        margin_se: Standard errors a fine-tuned epoch must gain over the start; 0
            keeps any gain. Applies only where per-example values exist.
    """

    mode: str = "max"
    margin_se: float = 1.0
    #: A loss gain beyond the margin clears the start too (when the metric is not worse).
    loss_clears: bool = False
    start: Candidate | None = None
    best: Candidate | None = None
    start_examples: torch.Tensor | None = field(default=None, repr=False)
    start_losses: torch.Tensor | None = field(default=None, repr=False)

    def better(self, value: float, than: float | None) -> bool:
        return than is None or (value > than if self.mode == "max" else value < than)

    @property
    def leader_value(self) -> float | None:
        """The value an epoch must beat to count as an improvement (patience, plateau)."""
        values = [c.value for c in (self.start, self.best) if c is not None]
        if not values:
            return None
        return max(values) if self.mode == "max" else min(values)

    def offer_start(self, value: float, state: dict[str, torch.Tensor], examples: torch.Tensor | None,
                    tie: float | None = None, losses: torch.Tensor | None = None) -> None:
        self.start = Candidate(0, value, state, tie=tie)
        self.start_examples = examples
        self.start_losses = losses

    def offer(self, epoch: int, value: float, state_fn: Any, examples: torch.Tensor | None,
              tie: float | None = None, losses: torch.Tensor | None = None, eligible: bool = True) -> bool:
        """Consider an epoch; ``state_fn()`` copies its weights only when needed.

        Args:
            epoch: The epoch (1-based).
            value: Its monitored metric.
            state_fn: Returns a copy of its weights.
            examples: Per-example values of the monitored metric (for the start rule).
            tie: A second metric, lower is better, that breaks exact ties of ``value``.
            losses: Per-example validation losses (for ``loss_clears``).
            eligible: False: the epoch may not replace the start even when it is the best
                (a guard's veto); it still counts as the best for patience.

        Returns True when the epoch improved on every earlier candidate (a tie won on
        ``tie`` counts).
        """
        leader = self.best if self.best is not None else self.start
        improved = self.better(value, self.leader_value) or self._wins_tie(value, tie, leader)
        if self.better(value, self.best.value if self.best else None) or self._wins_tie(value, tie, self.best):
            self.best = Candidate(epoch, value, state_fn(),
                                  eligible and self._clears_start(value, examples, losses), tie)
        return improved

    @staticmethod
    def _wins_tie(value: float, tie: float | None, other: Candidate | None) -> bool:
        return (other is not None and value == other.value and tie is not None and other.tie is not None
                and tie < other.tie)

    def chosen(self) -> Candidate | None:
        if self.start is None:
            return self.best
        if self.best is None or not self.best.clears_start:
            return self.start
        return self.best

    def _clears_start(self, value: float, examples: torch.Tensor | None,
                      losses: torch.Tensor | None = None) -> bool:
        if self.start is None:
            return True
        if (self.loss_clears and losses is not None and self.start_losses is not None
                and not self.better(self.start.value, value)
                and self._beyond_margin(self.start_losses.double() - losses.double())):
            return True
        if not self.better(value, self.start.value):
            return False
        if examples is None or self.start_examples is None or self.margin_se <= 0:
            return True
        diff = examples.double() - self.start_examples.double()
        return self._beyond_margin(-diff if self.mode == "min" else diff)

    def _beyond_margin(self, gain: torch.Tensor) -> bool:
        """The paired per-example gain's mean exceeds ``margin_se`` standard errors."""
        n = gain.numel()
        se = float(gain.std(unbiased=True)) / math.sqrt(n) if n > 1 else 0.0
        return float(gain.mean()) > self.margin_se * se

    def state_dict(self) -> dict[str, Any]:
        """Plain containers only: checkpoints are read with ``weights_only=True``."""
        return {"start": _as_dict(self.start), "best": _as_dict(self.best), "start_examples": self.start_examples,
                "start_losses": self.start_losses}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.start = Candidate(**state["start"]) if state.get("start") else None
        self.best = Candidate(**state["best"]) if state.get("best") else None
        self.start_examples = state.get("start_examples")
        self.start_losses = state.get("start_losses")


def _as_dict(c: Candidate | None) -> dict[str, Any] | None:
    return None if c is None else {"epoch": c.epoch, "value": c.value, "state": c.state, "clears_start": c.clears_start,
                                   "tie": c.tie}
