"""scratch: the same architecture with fresh weights — the baseline of every report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from graft.engine.param_groups import model_param_groups
from graft.engine.trainer import Batch
from graft.options import Search, option
from graft.strategies.base import FitContext, Strategy, StrategyConfig, register_strategy, supervised_step


@dataclass
class ScratchConfig(StrategyConfig):
    """Options of ``scratch`` (each field's help is in its declaration)."""

    label_smoothing: float = option(0.0, help="Label smoothing of the cross-entropy.", ge=0, lt=1,
                                    search=Search(0.0, 0.2))


@register_strategy("scratch", "same architecture, fresh random weights: the baseline")
class Scratch(Strategy):
    Config = ScratchConfig
    config: ScratchConfig
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3, "epochs": 30, "weight_decay": 0.01, "warmup_epochs": 1.0,
        "augment": "light",
    }

    def prepare(self, ctx: FitContext) -> None:
        torch.manual_seed(ctx.seed)
        reinitialise(ctx.model)
        for p in ctx.model.parameters():
            p.requires_grad_(True)

    def param_groups(self, ctx: FitContext) -> list[dict[str, Any]]:
        # Fresh weights: the backbone's pretrained-weight LR scale does not apply.
        return model_param_groups(ctx.model, weight_decay=ctx.train_config.weight_decay, pretrained=False)

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        return supervised_step(module, batch, self.config.label_smoothing)


def reinitialise(model: nn.Module) -> int:
    """Reset every submodule that can reset itself; returns how many did.

    A module with ``reset_weights()`` (a transformers encoder) is reset by its own
    initialiser as a whole; plain modules use ``reset_parameters()``.
    """
    n = 0
    owned: set[int] = set()
    for m in model.modules():
        if m is not model and id(m) not in owned and callable(getattr(m, "reset_weights", None)):
            m.reset_weights()  # type: ignore[operator]
            owned.update(id(s) for s in m.modules())
            n += 1
    for m in model.modules():
        if id(m) in owned:
            continue
        if m is not model and hasattr(m, "reset_parameters"):
            m.reset_parameters()  # type: ignore[operator]
            n += 1
        if hasattr(m, "reset_running_stats"):
            m.reset_running_stats()  # type: ignore[operator]
    return n
