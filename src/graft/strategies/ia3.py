"""ia3: learned rescaling vectors (peft IA3) in a frozen backbone, a trained head; merged after training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from graft.strategies.base import register_strategy
from graft.strategies.lora import AdapterTuning, AdapterTuningConfig


@dataclass
class IA3Config(AdapterTuningConfig):
    """Options of ``ia3`` (those of ``lora``; the ``lora_*`` ones are unused)."""

    adapter: str = "ia3"  # declared in AdapterOptions; only the default differs


@register_strategy("ia3", "IA3 rescaling vectors (peft) in the frozen backbone + a trained head; merged when done")
class IA3Tuning(AdapterTuning):
    Config = IA3Config
    config: IA3Config
    # IA3 trains far fewer parameters than LoRA and needs a larger step.
    train_defaults: ClassVar[dict[str, Any]] = {**AdapterTuning.train_defaults, "lr": 3e-3}
