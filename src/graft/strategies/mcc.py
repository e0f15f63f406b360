"""mcc: Minimum Class Confusion on the target predictions (Jin et al. 2020)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from graft.engine.trainer import Batch
from graft.options import Search, option
from graft.strategies.adaptation import AdaptationConfig, DomainAdaptation
from graft.strategies.base import register_strategy


@dataclass
class MccConfig(AdaptationConfig):
    """Options of ``mcc`` (each field's help is in its declaration)."""

    temperature: float = option(2.5, help="Softmax temperature of the class-confusion estimate.", gt=0,
                                search=Search(1.0, 5.0))


@register_strategy("mcc", "Minimum Class Confusion on target predictions")
class Mcc(DomainAdaptation):
    Config = MccConfig
    config: MccConfig

    def alignment(self, module: nn.Module, fs: torch.Tensor, ft: torch.Tensor, ls: torch.Tensor,
                  lt: torch.Tensor, batch: Batch) -> torch.Tensor:
        from graft.losses import mcc_loss

        return mcc_loss(lt, temperature=self.config.temperature)
