"""side-tune: the source network stays frozen; a side network (a copy of it) learns the target,
and their features are blended by a learned weight α (Zhang et al., 2020, "knowledge fusion").

The base cannot forget what the source taught, however few the target labels: the side
network only adds what the target needs, and α says how much of the base was kept (logged
per epoch as ``alpha``). The head starts as a linear probe on the base's features (the
blended features at the start, the side being a copy) and that start competes as epoch 0.
The saved model is one plain model (``model.json`` marks the two-network backbone), usable
as ``run:DIR``, by ``graft predict`` and by export.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from graft.engine.trainer import Batch, Callback
from graft.models.side import RECIPE_KEY, SideTuneBackbone
from graft.options import option
from graft.strategies.base import FitContext, Strategy, register_strategy, supervised_step
from graft.strategies.finetune import TuningOptions, freeze_batchnorm, warm_start_head


@dataclass
class SideTuneConfig(TuningOptions):
    """Options of ``side-tune`` (and the tuning options of ``finetune``); each field's help is in its declaration."""

    alpha: float = option(0.5, help="Starting weight α of the frozen base's features (1 − α for the side "
                          "network's); α is learned.", gt=0, lt=1)


@register_strategy("side-tune", "frozen source network plus a trainable side copy, features blended by a learned α")
class SideTune(Strategy):
    Config = SideTuneConfig
    config: SideTuneConfig
    train_defaults = {"lr": 1e-3, "epochs": 30, "weight_decay": 0.05, "warmup_epochs": 2.0, "schedule": "cosine",
                      "augment": "light", "patience": None}

    def prepare(self, ctx: FitContext) -> None:
        warm_start_head(ctx, self.config)  # on the base's features, which the blend starts from
        import copy

        base = ctx.model.backbone
        side = copy.deepcopy(base)
        base.requires_grad_(False)
        ctx.model.backbone = SideTuneBackbone(base, side, self.config.alpha)
        ctx.model.spec.recipe = {**ctx.model.spec.recipe, RECIPE_KEY: True}

    def param_groups(self, ctx: FitContext) -> list[dict[str, Any]]:
        backbone: SideTuneBackbone = ctx.model.backbone  # type: ignore[assignment]
        scale = ctx.model.spec.lr_scale
        wd = ctx.train_config.weight_decay
        return [
            {"params": list(backbone.side.parameters()), "weight_decay": wd, "lr_scale": scale, "layer": 0,
             "name": "side"},
            {"params": [backbone.alpha_logit], "weight_decay": 0.0, "lr_scale": 1.0, "layer": 1, "name": "alpha"},
            {"params": list(ctx.model.head.parameters()), "weight_decay": wd, "lr_scale": self.config.head_lr_scale,
             "layer": 1, "name": "head"},
        ]

    def start_is_candidate(self, ctx: FitContext) -> bool:
        return self.config.lp_init

    def callbacks(self, ctx: FitContext) -> list[Callback]:
        return [_FrozenBase(ctx, self.config.freeze_bn)]

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        out = supervised_step(module, batch, self.config.label_smoothing)
        out["alpha"] = torch.sigmoid(module.backbone.alpha_logit.detach())
        return out


class _FrozenBase:
    """The base network in eval mode every epoch (no dropout, fixed statistics); the side's batch
    norm frozen too unless ``--no-freeze-bn``."""

    def __init__(self, ctx: FitContext, freeze_bn: bool) -> None:
        self.ctx, self.freeze_bn = ctx, freeze_bn

    def on_epoch_start(self, epoch: int, module: nn.Module) -> None:
        backbone: SideTuneBackbone = self.ctx.model.backbone  # type: ignore[assignment]
        backbone.base.eval()
        if self.freeze_bn:
            freeze_batchnorm(backbone.side)
