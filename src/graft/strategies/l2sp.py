"""l2sp: fine-tuning with weight decay toward the pretrained weights (L2-SP), not toward zero."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from graft.engine.trainer import Batch
from graft.losses import l2_sp
from graft.options import Search, option
from graft.strategies.base import FitContext, register_strategy
from graft.strategies.finetune import Finetune, FinetuneConfig


@dataclass
class L2SPConfig(FinetuneConfig):
    """Options of ``l2sp`` (and those of ``finetune``); each field's help is in its declaration."""

    # Li et al. 2018 use 0.01-0.1 for alpha and 0.01 for beta with SGD; the same orders of
    # magnitude hold with AdamW because the penalty's gradient is added to the loss's.
    alpha: float = option(0.01, help="Weight α of α/2·||w − w_pretrained||² over the backbone.", ge=0,
                          search=Search(1e-4, 1.0, log=True))
    beta: float = option(0.01, help="Weight β of β/2·||w||² over the head's weights.", ge=0,
                         search=Search(1e-4, 1.0, log=True))


@register_strategy("l2sp", "fine-tune with weight decay toward the pretrained weights (L2-SP)")
class L2SP(Finetune):
    Config = L2SPConfig
    config: L2SPConfig
    # L2-SP replaces the decay toward zero; both at once would pull the backbone two ways.
    train_defaults: ClassVar[dict[str, Any]] = {**Finetune.train_defaults, "weight_decay": 0.0}
    anchors_pretrained = True

    def prepare(self, ctx: FitContext) -> None:
        super().prepare(ctx)
        skip = {f"backbone.{n}" for n in ctx.model.spec.no_weight_decay}
        # The starting point: the backbone as built (pretrained), before any step.
        self._anchors = [(p, p.detach().clone()) for n, p in ctx.model.named_parameters()
                         if n.startswith("backbone.") and n not in skip and p.ndim > 1]
        self._head = [p for p in ctx.model.head.parameters() if p.ndim > 1]

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        out = super().step(module, batch)
        reg: Any = 0.0
        if self.config.alpha and self._anchors:
            reg = reg + self.config.alpha / 2 * l2_sp(self._anchors)
        if self.config.beta and self._head:
            reg = reg + self.config.beta / 2 * sum(p.pow(2).sum() for p in self._head)
        if torch.is_tensor(reg):
            out["loss"] = out["loss"] + reg
            out["l2sp"] = reg.detach()
        return out
