"""instance-weighting: the source's labeled examples join the target's training, each drawn in
proportion to its estimated relevance to the target.

The relevance is the density ratio ``p_target(x) / p_source(x)`` of the pretrained features,
estimated once by a domain classifier (logistic regression on balanced domains: the ratio is
its odds), clipped at ``--max-weight`` and normalised to mean 1 (Sugiyama et al., 2007; ADAPT's
KMM/KLIEP family). Source examples are then resampled with those weights, so every step's
source batch follows the target's distribution in expectation while its loss stays a plain
mean. The target side uses the K labeled examples and, when present, the unlabeled rest of the
target's training split (never their labels). The weights' histogram is ``plots/source_weights.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from torch.utils.data import Dataset, Subset

from graft.engine.features import extract_features
from graft.options import option
from graft.strategies.base import FitContext, register_strategy
from graft.strategies.finetune import Finetune
from graft.strategies.multitask import Multitask, MultitaskConfig, _with_second_stream


@dataclass
class InstanceWeightingConfig(MultitaskConfig):
    """Options of ``instance-weighting`` (and those of ``multitask``); each field's help is in its declaration."""

    max_weight: float = option(10.0, help="Largest weight of a source example before normalisation "
                               "(clipping keeps a few look-alikes from taking over).", gt=0)


@register_strategy("instance-weighting", "source examples join the target's training, resampled by their "
                   "estimated relevance to the target (density ratio from a domain classifier)")
class InstanceWeighting(Multitask):
    Config = InstanceWeightingConfig
    config: InstanceWeightingConfig
    same_classes: ClassVar[bool] = True

    def fit(self, ctx: FitContext) -> Any:
        # Weights from the pretrained features, before any training moves them.
        weights = source_weights(ctx, self.config.max_weight)
        rng = np.random.default_rng(ctx.seed)
        drawn = rng.choice(len(weights), size=len(weights), replace=True, p=weights / weights.sum())
        _plot(ctx, weights)
        resampled = Subset(ctx.source, drawn.tolist())
        resampled.collate = getattr(ctx.source, "collate", None)  # type: ignore[attr-defined]
        return super(Multitask, self).fit(_with_second_stream(ctx, resampled))

    def prepare(self, ctx: FitContext) -> None:
        super().prepare(ctx)
        # One task: the source examples train the target head (same classes), not a head of their own.
        self._module.extras["source_head"] = ctx.model.head

    def param_groups(self, ctx: FitContext) -> list[dict[str, Any]]:
        return Finetune.param_groups(self, ctx)  # the head is the model's: no extra group


def source_weights(ctx: FitContext, max_weight: float) -> np.ndarray:
    """Importance weights ``p_t/p_s`` of the source examples, clipped and normalised to mean 1."""
    from sklearn.linear_model import LogisticRegression

    source = ctx.source_plain if ctx.source_plain is not None else ctx.source
    assert source is not None
    targets: list[Dataset] = [ctx.labeled_plain()]
    if ctx.target_plain() is not None:
        targets.append(ctx.target_plain())  # type: ignore[arg-type]
    device = next(ctx.model.backbone.parameters()).device
    f_s = extract_features(ctx.model.backbone, source, device=device)[0].double().numpy()
    f_t = np.concatenate([extract_features(ctx.model.backbone, t, device=device)[0].double().numpy()
                          for t in targets])
    mu, sd = f_s.mean(0), f_s.std(0) + 1e-8
    z = np.concatenate([(f_s - mu) / sd, (f_t - mu) / sd])
    domain = np.r_[np.zeros(len(f_s)), np.ones(len(f_t))]
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(z, domain)
    p = clf.predict_proba(z[: len(f_s)])[:, 1].clip(1e-6, 1 - 1e-6)
    w = np.minimum(p / (1 - p), max_weight)
    return w / w.mean()


def _plot(ctx: FitContext, weights: np.ndarray) -> None:
    from graft.notes import note

    ess = float(weights.sum() ** 2 / (weights**2).sum()) / len(weights)
    note(f"instance-weighting: {len(weights)} source examples weighted by relevance to the target; the "
         f"effective sample size is {100 * ess:.0f} % of them (max weight {weights.max():.2f}).")
    if ctx.run_dir is None:
        return
    from graft.report.plots import plot_weights

    (ctx.run_dir / "plots").mkdir(parents=True, exist_ok=True)
    plot_weights(weights, ctx.run_dir / "plots" / "source_weights.png",
                 f"source weights p_t/p_s (effective sample size {100 * ess:.0f} %)")
