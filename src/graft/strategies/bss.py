"""bss: fine-tuning with Batch Spectral Shrinkage of the features' smallest singular values."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from graft.engine.trainer import Batch
from graft.losses import batch_spectral_shrinkage
from graft.options import Search, option
from graft.strategies.base import register_strategy
from graft.strategies.finetune import Finetune, FinetuneConfig


@dataclass
class BSSConfig(FinetuneConfig):
    """Options of ``bss`` (and those of ``finetune``); each field's help is in its declaration."""

    # Chen et al. 2019: k = 1 and a weight of 1e-3 across their benchmarks.
    bss_weight: float = option(0.001, help="Weight of the sum of the k smallest squared singular values.", ge=0,
                               search=Search(1e-4, 0.1, log=True))
    bss_k: int = option(1, help="How many of the smallest singular values of a batch's features to shrink.", ge=1)


@register_strategy("bss", "fine-tune, shrinking the smallest singular values of the features (BSS)")
class BSS(Finetune):
    Config = BSSConfig
    config: BSSConfig

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        logits, features = module(batch["x"], return_features=True)
        y = batch["y"]
        ce = F.cross_entropy(logits, y, label_smoothing=self.config.label_smoothing)
        shrink = batch_spectral_shrinkage(features, self.config.bss_k)
        return {"loss": ce + self.config.bss_weight * shrink, "ce": ce.detach(), "bss": shrink.detach(),
                "accuracy": (logits.detach().argmax(1) == y).float().mean()}
