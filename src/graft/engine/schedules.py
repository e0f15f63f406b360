"""Learning-rate schedules as pure functions of the step.

The engine multiplies every optimizer group's base learning rate (``base_lr *
lr_scale``) by :func:`lr_factor` each step, so one schedule drives discriminative
and layer-wise learning rates alike, and resuming only needs the step counter.
Reduce-on-plateau is the one stateful schedule: :class:`PlateauState`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from graft.errors import ConfigError

SCHEDULES = ("constant", "cosine", "linear", "poly", "exp", "step", "inv", "plateau")


def lr_factor(
    step: int,
    total_steps: int,
    *,
    schedule: str = "cosine",
    warmup_steps: int = 0,
    min_factor: float = 0.0,
    power: float = 2.0,
    gamma: float = 0.1,
    step_every: int = 1,
    inv_gamma: float = 0.001,
    inv_power: float = 0.75,
) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based).

    Args:
        step: Optimizer steps taken so far.
        total_steps: Steps in the whole run.
        schedule: One of ``SCHEDULES``; ``plateau`` is constant here (the
            plateau state scales it).
        warmup_steps: Linear warm-up from ``1/warmup_steps`` to 1.
        min_factor: Floor reached at the end by cosine/linear/poly.
        power: Exponent of ``poly``.
        gamma: Decay of ``exp`` (reached at the end) and of ``step`` (per step_every).
        step_every: Steps between decays of ``step``.
        inv_gamma: ``inv`` decays as ``(1 + inv_gamma * step) ** -inv_power`` (the
            domain-adaptation literature's schedule, per step, no total length).
        inv_power: Exponent of ``inv``.

    Example:
        >>> lr_factor(0, 100, schedule="cosine", warmup_steps=10)
        0.1
    """
    if schedule not in SCHEDULES:
        raise ConfigError(
            f"Unknown learning-rate schedule '{schedule}'. Allowed: {', '.join(SCHEDULES)}."
        )
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    t = min(1.0, max(0.0, (step - warmup_steps) / span))
    if schedule in ("constant", "plateau"):
        return 1.0
    if schedule == "inv":
        return float((1 + inv_gamma * (step - warmup_steps)) ** -inv_power)
    if schedule == "cosine":
        return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * t))
    if schedule == "linear":
        return min_factor + (1 - min_factor) * (1 - t)
    if schedule == "poly":
        return min_factor + (1 - min_factor) * (1 - t) ** power
    if schedule == "exp":
        return gamma**t
    return gamma ** ((step - warmup_steps) // max(1, step_every))


@dataclass
class PlateauState:
    """Reduce-on-plateau: scale the learning rate by ``factor`` after ``patience``
    epochs without improvement of the monitored metric."""

    mode: str = "max"
    factor: float = 0.1
    patience: int = 2
    best: float | None = None
    bad_epochs: int = 0
    scale: float = 1.0

    def update(self, value: float) -> None:
        better = self.best is None or (value > self.best if self.mode == "max" else value < self.best)
        if better:
            self.best, self.bad_epochs = value, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.scale *= self.factor
            self.bad_epochs = 0
