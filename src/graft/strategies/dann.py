"""dann: domain-adversarial training through a gradient reversal layer (Ganin et al. 2016)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from graft.engine.trainer import Batch
from graft.options import option
from graft.strategies.adaptation import AdaptationConfig, DomainAdaptation
from graft.strategies.base import FitContext, StrategyConfig, module_extras, register_strategy


@dataclass
class DiscriminatorOptions(StrategyConfig):
    """The domain discriminator's options, shared by every strategy that trains one (dann, cdan and
    self-training's adversarial term)."""

    hidden: int = option(1024, help="Width of the domain discriminator.", ge=1)
    grl_alpha: float = option(10.0, help="Steepness of the gradient-reversal ramp 2/(1+exp(−α·p)) − 1.", gt=0)


@dataclass
class AdversarialTermOptions(DiscriminatorOptions):
    """dann's discriminator beside another strategy's own loss (self-training, mcc)."""

    adversarial_weight: float | None = option(
        None, help="Weight of a domain-adversarial term (dann's discriminator behind a gradient reversal, "
        "on the source and target features) beside the strategy's own loss; 0: none.", ge=0, example=0.3,
        unset="self-training: 0.3 where the target's polarity differs from the source's (images), else 0; mcc: 0")


class AdversarialTerm:
    """Adds :class:`AdversarialTermOptions`' term to a domain-adaptation strategy: on by default (at
    :attr:`polarity_adversarial_weight`) where the target's polarity differs from the source's."""

    config: Any
    name: str
    #: --adversarial-weight where the polarity differs, when unset.
    polarity_adversarial_weight: ClassVar[float] = 0.3
    #: Why, in the note that says it was turned on.
    adversarial_reason: ClassVar[str] = ""

    def resolve_adversarial_weight(self, differs: bool) -> float:
        """Set an unset --adversarial-weight from the polarity (and say so); return it."""
        cfg = self.config
        if cfg.adversarial_weight is None:
            cfg.adversarial_weight = self.polarity_adversarial_weight if differs else 0.0
            if cfg.adversarial_weight:
                from graft.notes import note

                note(f"{self.name} adds dann's discriminator at --adversarial-weight {cfg.adversarial_weight:g} "
                     f"because the polarity differs: {self.adversarial_reason}. Fix: pass --adversarial-weight 0 "
                     "to turn it off.")
        return float(cfg.adversarial_weight)

    def adversarial_modules(self, ctx: FitContext) -> dict[str, nn.Module]:
        """The discriminator, where the term is on."""
        if not self.config.adversarial_weight:
            return {}
        from graft.losses import DomainDiscriminator

        return {"discriminator": DomainDiscriminator(ctx.model.spec.feature_dim, self.config.hidden)}

    def adversarial_loss(self, module: nn.Module, fs: torch.Tensor, ft: torch.Tensor, progress: float,
                         out: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The weighted term (logged in ``out`` unweighted), or None where it is off."""
        if not self.config.adversarial_weight:
            return None
        adv = reversed_domain_loss(module, fs, ft, progress, self.config.grl_alpha)
        out["adversarial_loss"] = adv.detach()
        return self.config.adversarial_weight * adv


@dataclass
class DannConfig(DiscriminatorOptions, AdaptationConfig):
    """Options of ``dann`` (each field's help is in its declaration)."""

    ramp: bool = False  # the gradient reversal coefficient ramps instead


@register_strategy("dann", "domain-adversarial training with a gradient reversal layer")
class Dann(DomainAdaptation):
    Config = DannConfig
    config: DannConfig
    # Where the source is randomised (a polarity change), a discriminator set against a start that has barely
    # learned it can collapse: on inverted noisy digits one seed in three fell to 0.64 (s21_suite.md). A
    # 5-epoch warm start (s22_polarity.md, seeds 0-2, label-free pick), 2 -> 5: inverted noisy digits 0.798 ->
    # 0.828 (source-only 0.846), colour backgrounds 0.703 -> 0.695 (0.671); held out, digits -> colour MNIST
    # 0.491 -> 0.497 (0.482), -> inverted MNIST 0.400 -> 0.404 (0.572). With --mcc-weight 1 (auto's pick there):
    # 0.913 -> 0.929, 0.710 -> 0.699, held out 0.487 -> 0.513 and 0.639 -> 0.682; mean 0.687 -> 0.706.
    randomised_warm_start: ClassVar[int | None] = 5

    def extra_modules(self, ctx: FitContext) -> dict[str, nn.Module]:
        from graft.losses import DomainDiscriminator

        return {"discriminator": DomainDiscriminator(ctx.model.spec.feature_dim, self.config.hidden)}

    def alignment(self, module: nn.Module, fs: torch.Tensor, ft: torch.Tensor, ls: torch.Tensor,
                  lt: torch.Tensor, batch: Batch) -> torch.Tensor:
        return reversed_domain_loss(module, fs, ft, batch["progress"], self.config.grl_alpha)


def reversed_domain_loss(module: nn.Module, fs: torch.Tensor, ft: torch.Tensor, progress: float,
                         alpha: float = 10.0) -> torch.Tensor:
    """The training module's ``discriminator`` on source and target features behind a gradient
    reversal ramped over ``progress``: the discriminator learns the domains, the features unlearn them."""
    from graft.losses import domain_adversarial_loss, grad_reverse, grl_schedule

    disc = module_extras(module)["discriminator"]
    d = disc(grad_reverse(torch.cat([fs, ft]), grl_schedule(progress, alpha=alpha)))
    return domain_adversarial_loss(d[: len(fs)], d[len(fs):])
