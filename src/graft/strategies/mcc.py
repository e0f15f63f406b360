"""mcc: Minimum Class Confusion on the target predictions (Jin et al. 2020)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from graft.engine.trainer import Batch
from graft.options import Search, option
from graft.strategies.adaptation import AdaptationConfig, DomainAdaptation
from graft.strategies.base import FitContext, register_strategy
from graft.strategies.dann import AdversarialTerm, AdversarialTermOptions


@dataclass
class MccConfig(AdversarialTermOptions, AdaptationConfig):
    """Options of ``mcc`` (each field's help is in its declaration)."""

    temperature: float = option(2.5, help="Softmax temperature of the class-confusion estimate.", gt=0,
                                search=Search(1.0, 5.0))


@register_strategy("mcc", "Minimum Class Confusion on target predictions")
class Mcc(AdversarialTerm, DomainAdaptation):
    Config = MccConfig
    config: MccConfig
    # MCC sharpens whatever the warm-started model predicts on the target, so it needs a model that
    # has learned the source. DA suite (10 epochs, seeds 0-2), warm start 2 → 5: colour backgrounds
    # 0.438 → 0.482 (source-only 0.487: three paired standard errors below it → within one),
    # inverted noisy 0.317 → 0.422, MNIST → digits 0.840 → 0.821, digits → MNIST 0.475 → 0.469,
    # skewed 0.823 → 0.815: suite mean 0.579 → 0.602. B1 (1560 iterations) 0.932 → 0.950.
    default_warm_start: ClassVar[int] = 5
    # Where the source is randomised (a polarity change) its task is harder and 5 epochs leave a start
    # too weak to sharpen: on colour backgrounds (10 epochs, seeds 0-2) mcc ended 0.052 below source-only
    # (0.619 against 0.671, three paired standard errors); with 7, 0.655 (-0.016, within one), inverted
    # noisy 0.919 -> 0.918; held out (chosen after): digits -> colour MNIST 0.307 -> 0.300, -> inverted
    # MNIST 0.459 -> 0.451, both above source-only (0.270, 0.332). s16_mcc*.md; with the rule, s18_pol_mcc.md.
    randomised_warm_start: ClassVar[int | None] = 7
    # On text its own 5 (3 of b5_text_da's 6 epochs) already sits above source-only: b5r 0.439 against 0.404,
    # B5 0.354 against 0.343 (macro-F1, seeds 0-2).
    text_warm_start: ClassVar[int | None] = None
    # Where the polarity differs, sharpening a start that has barely learned the randomised source is a coin flip:
    # on colour backgrounds mcc ended −0.021 against source-only (per seed −0.058 / −0.008 / +0.002). dann's
    # discriminator beside it (session 31, s31_suite.md and s31_heldout.md, seeds 0-2, paired against source-only),
    # W = 0 -> 0.3 -> 1: colour −0.021 -> −0.022 -> +0.013, inverted noisy digits +0.072 -> +0.081 -> +0.069; but
    # on the held-out shifts, read after W = 1 was chosen, digits -> colour MNIST +0.013 -> −0.003 -> +0.014 and
    # digits -> inverted MNIST +0.174 -> (not run) -> +0.062. The held-out loss outweighs the suite's gain: the term
    # stays an option (--adversarial-weight), off by default.
    polarity_adversarial_weight: ClassVar[float] = 0.0

    def resolve_randomisation(self, ctx: FitContext) -> dict[str, Any]:
        """As every DA strategy, and --adversarial-weight resolved (0 when unset, polarity or not)."""
        info = super().resolve_randomisation(ctx)
        weight = self.resolve_adversarial_weight(bool(info.get("polarity_differs")))
        return info if ctx.model.spec.input.kind != "image" else {**info, "adversarial_weight": weight}

    def extra_modules(self, ctx: FitContext) -> dict[str, nn.Module]:
        return self.adversarial_modules(ctx)

    def added_term(self, module: nn.Module, fs: torch.Tensor, ft: torch.Tensor, batch: Batch,
                   out: dict[str, torch.Tensor]) -> torch.Tensor | None:
        return self.adversarial_loss(module, fs, ft, batch["progress"], out)

    def alignment(self, module: nn.Module, fs: torch.Tensor, ft: torch.Tensor, ls: torch.Tensor,
                  lt: torch.Tensor, batch: Batch) -> torch.Tensor:
        from graft.losses import mcc_loss

        return mcc_loss(lt, temperature=self.config.temperature)
