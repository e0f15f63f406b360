"""coral: match second-order statistics of source and target features (Deep CORAL, Sun & Saenko 2016)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from graft.engine.trainer import Batch
from graft.losses import coral, relative_coral
from graft.options import option
from graft.strategies.adaptation import AdaptationConfig, DomainAdaptation
from graft.strategies.base import register_strategy

#: --coral-scale → its loss (:mod:`graft.losses.coral`); the option's choices are these keys.
LOSSES = {"relative": relative_coral, "dimension": coral}


@dataclass
class CoralConfig(AdaptationConfig):
    """Options of ``coral``: those of every domain-adaptation strategy, and the loss's scale."""

    # The paper's loss, divided by 4·d², was a near no-op in graft: with --trade-off 10 (chosen over 100 on B1 by
    # IM) the DA suite's coral ended within 0.02 of source-only on all five shifts, and on MiniLM's features the
    # term was ~1e-5. The relative gap does not depend on the features' scale. Its weight (session 24, DA suite
    # seed 0, s24_coral_tune.md): 0.3 and more cost 0.06 on colour backgrounds (0.59-0.60 against source-only
    # 0.663; aligning the covariances there hurts), 0.1 stays within 0.015 of source-only on the three tuning
    # shifts (MNIST -> digits 0.661 / 0.667, digits -> MNIST 0.680 / 0.677, colour 0.678 / 0.663); seeds 0-2 it
    # is at or above source-only on all seven suite shifts (s24_coral_suite.md, s24_coral_heldout.md); on B1's
    # 1560 iterations 0.761 against 0.783, the paper's loss 0.773 (s24_b1_coral*.md, within 1.5 paired se).
    coral_scale: str = option(
        "relative", help="relative: the covariance gap ||C_s - C_t||² over ||C_s||² + ||C_t||² (in [0, 2], the "
        "same at any feature scale); dimension: the paper's ||C_s - C_t||² / (4·d²), whose size follows the "
        "features' scale (pass --trade-off 10 or more with it).", choices=tuple(LOSSES))
    trade_off: float = 0.1


@register_strategy("coral", "Deep CORAL: align feature covariances of source and target")
class Coral(DomainAdaptation):
    Config = CoralConfig
    config: CoralConfig

    def alignment(self, module: nn.Module, fs: torch.Tensor, ft: torch.Tensor, ls: torch.Tensor,
                  lt: torch.Tensor, batch: Batch) -> torch.Tensor:
        return LOSSES[self.config.coral_scale](fs, ft)
