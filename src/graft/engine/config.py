"""The engine's typed configuration, validated before any work starts."""

from __future__ import annotations

from dataclasses import dataclass

from graft.engine.schedules import SCHEDULES
from graft.errors import ConfigError

OPTIMIZERS = ("adamw", "sgd")
PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "64-true", "32", "16", "bf16")


@dataclass
class TrainConfig:
    """How the engine trains; strategies set their own defaults.

    Attributes:
        epochs: Passes over the labeled training data.
        batch_size: Labeled examples per step (and target examples, for two streams).
        lr: Base learning rate; each group's is ``lr * lr_scale``.
        optimizer: ``adamw`` or ``sgd`` (Nesterov momentum).
        weight_decay: Decay of weights (not norms or biases).
        momentum: SGD momentum.
        schedule: Learning-rate schedule, one of ``SCHEDULES``.
        warmup_epochs: Linear warm-up length in epochs (fractions allowed).
        min_lr_ratio: Final LR as a fraction of the base for cosine/linear/poly.
        gamma: Decay of ``exp``, ``step`` and ``plateau``.
        step_epochs: Epochs between ``step`` decays.
        inv_gamma: ``inv`` schedule: LR × (1 + inv_gamma·step)^−inv_power.
        inv_power: Exponent of the ``inv`` schedule.
        plateau_patience: Epochs without improvement before ``plateau`` decays.
        patience: Early stopping after this many epochs without improvement of the
            monitored metric; None trains all epochs. The best epoch is restored.
        monitor: Validation metric that selects the checkpoint (``val_accuracy``,
            ``val_loss``, or a label-free validator's metric).
        start_margin_se: Where the starting weights compete (LP-FT's probe-fitted start),
            a fine-tuned epoch replaces them only when its validation gain exceeds this
            many standard errors of the paired per-example difference; 0 keeps any gain.
        steps_per_epoch: Fixed steps per epoch; None = one pass over the larger of the
            labeled and the unlabeled stream (the smaller one cycles), so a small
            labeled source does not cut short the use of a large target.
        grad_clip: Clip the gradient norm to this value.
        augment: Train-time augmentation (``none``, ``light``, ``flip``).
        accelerator: Fabric accelerator (``auto``, ``cpu``, ``cuda``).
        devices: Fabric devices (a count, or ``auto``).
        fabric_strategy: Fabric strategy (``auto``, ``ddp``, ``fsdp``).
        precision: Fabric precision (``32-true``, ``16-mixed``, ``bf16-mixed``).
        num_workers: DataLoader workers.
        progress: Show a progress bar.
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    momentum: float = 0.9
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    min_lr_ratio: float = 0.0
    gamma: float = 0.1
    step_epochs: int = 10
    inv_gamma: float = 0.001
    inv_power: float = 0.75
    plateau_patience: int = 2
    patience: int | None = None
    monitor: str = "val_accuracy"
    start_margin_se: float = 1.0
    steps_per_epoch: int | None = None
    grad_clip: float | None = None
    augment: str = "none"
    accelerator: str = "auto"
    devices: str = "1"
    fabric_strategy: str = "auto"
    precision: str = "32-true"
    num_workers: int = 0
    progress: bool = True

    def validate(self) -> None:
        """Raise ConfigError for an out-of-range or unknown value."""
        _positive("epochs", self.epochs)
        _positive("batch_size", self.batch_size)
        if not self.lr > 0:
            raise ConfigError(f"The 'lr' option must be > 0. Got {self.lr} instead. Fix: pass e.g. --lr 1e-3.")
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("precision", self.precision, PRECISIONS)
        _choice("augment", self.augment, ("none", "light", "flip"))
        if self.weight_decay < 0:
            raise ConfigError(f"The 'weight_decay' option must be >= 0. Got {self.weight_decay} instead.")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"The 'patience' option must be >= 1 or unset. Got {self.patience} instead.")
        if not self.start_margin_se >= 0:
            raise ConfigError(
                f"The 'start_margin_se' option must be >= 0. Got {self.start_margin_se} instead. "
                "Fix: pass 0 to keep any validation gain over the start, or e.g. 1."
            )
        if self.steps_per_epoch is not None:
            _positive("steps_per_epoch", self.steps_per_epoch)
        if self.warmup_epochs < 0:
            raise ConfigError(f"The 'warmup_epochs' option must be >= 0. Got {self.warmup_epochs} instead.")


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"The '{name}' option must be a positive integer. Got {value!r} instead.")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        from graft.errors import did_you_mean

        raise ConfigError(
            f"The '{name}' option must be one of {', '.join(allowed)}. Got '{value}' instead."
            f"{did_you_mean(value, allowed)}"
        )
