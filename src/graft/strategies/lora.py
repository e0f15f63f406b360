"""lora: low-rank adapters (peft) in a frozen backbone, a fully trained head, merged after training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from graft.engine.param_groups import trainable_param_groups
from graft.engine.trainer import Batch, Callback
from graft.models.adapters import AdapterOptions, add_adapter
from graft.models.spec import GraftModel
from graft.strategies.base import FitContext, Strategy, register_strategy, supervised_step
from graft.strategies.finetune import TuningOptions, freeze_batchnorm, warm_start_head


@dataclass
class AdapterTuningConfig(AdapterOptions, TuningOptions):
    """Options of ``lora`` (and ``ia3``): the adapter's (:class:`AdapterOptions`) and those of
    :class:`~graft.strategies.finetune.TuningOptions`. The adapter starts as the identity,
    so with ``lp_init`` training starts from the probe."""

    adapter: str = "lora"  # declared in AdapterOptions; only the default differs


@register_strategy("lora", "LoRA adapters (peft) in the frozen backbone + a trained head; merged when done")
class AdapterTuning(Strategy):
    Config = AdapterTuningConfig
    config: AdapterTuningConfig
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3, "epochs": 30, "weight_decay": 0.01, "warmup_epochs": 2.0,
        "schedule": "cosine", "augment": "light", "patience": None,
    }

    def prepare(self, ctx: FitContext) -> None:
        warm_start_head(ctx, self.config)
        for p in ctx.model.backbone.parameters():
            p.requires_grad_(False)
        add_adapter(ctx.model, self.config)

    def param_groups(self, ctx: FitContext) -> list[dict[str, Any]]:
        return trainable_param_groups(ctx.model, weight_decay=ctx.train_config.weight_decay,
                                      head_lr_scale=self.config.head_lr_scale)

    def start_is_candidate(self, ctx: FitContext) -> bool:
        return self.config.lp_init

    def callbacks(self, ctx: FitContext) -> list[Callback]:
        return [_FrozenNorms(ctx.model)] if self.config.freeze_bn else []

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        return supervised_step(module, batch, self.config.label_smoothing)


class _FrozenNorms:
    """Each epoch: batch-norm layers of the backbone back in eval mode."""

    def __init__(self, model: GraftModel) -> None:
        self.model = model

    def on_epoch_start(self, epoch: int, module: nn.Module) -> None:
        freeze_batchnorm(self.model.backbone)
