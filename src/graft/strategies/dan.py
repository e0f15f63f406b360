"""dan: align feature distributions with multi-kernel MMD (Long et al. 2015)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from graft.engine.trainer import Batch
from graft.options import option
from graft.strategies.adaptation import AdaptationConfig, DomainAdaptation
from graft.strategies.base import register_strategy


@dataclass
class DanConfig(AdaptationConfig):
    """Options of ``dan`` (each field's help is in its declaration)."""

    kernel_num: int = option(5, help="Gaussian kernels in the multi-kernel MMD.", ge=1)
    kernel_mul: float = option(2.0, help="Ratio between neighbouring kernel bandwidths.", gt=0)
    on_logits: bool = option(False, help="Also align the logits (joint adaptation of the last layer).")


@register_strategy("dan", "multi-kernel MMD between source and target features (DAN)")
class Dan(DomainAdaptation):
    Config = DanConfig
    config: DanConfig

    def alignment(self, module: nn.Module, fs: torch.Tensor, ft: torch.Tensor, ls: torch.Tensor,
                  lt: torch.Tensor, batch: Batch) -> torch.Tensor:
        from graft.losses import mk_mmd

        loss = mk_mmd(fs, ft, kernel_mul=self.config.kernel_mul, kernel_num=self.config.kernel_num)
        if self.config.on_logits:
            loss = loss + mk_mmd(ls, lt, kernel_mul=self.config.kernel_mul, kernel_num=self.config.kernel_num)
        return loss
