"""instance-weighting: the source's labeled examples join the target's training, each drawn in
proportion to its estimated relevance to the target.

The relevance is the density ratio ``p_target(x) / p_source(x)`` of the pretrained features,
estimated once by a domain classifier (logistic regression on balanced domains: the ratio is
its odds), clipped at ``--max-weight`` and normalised to mean 1 (Sugiyama et al., 2007; ADAPT's
KMM/KLIEP family). Source examples are then resampled with those weights, so every step's
source batch follows the target's distribution in expectation while its loss stays a plain
mean. The target side uses the K labeled examples and, when present, the unlabeled rest of the
target's training split (never their labels). The weights' histogram is ``plots/source_weights.png``.

``--reweight tradaboost`` then lets the model's own errors refine the weights (Dai et al., 2007,
TrAdaBoost): after each epoch, every source example the model misclassifies has its weight
multiplied by ``β = 1/(1 + sqrt(2 ln n / E))`` (``n`` source examples, ``E`` epochs), the
weights are renormalised and the source stream is redrawn from them. Source examples that
contradict the target (mislabeled, or from a region where the tasks disagree) fade out; the
plot then shows the starting and the final weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from torch import nn
from torch.utils.data import Dataset, Subset

from graft.engine.features import extract_features
from graft.engine.trainer import Callback
from graft.options import option
from graft.strategies.base import FitContext, register_strategy
from graft.strategies.finetune import Finetune
from graft.strategies.multitask import Multitask, MultitaskConfig, _with_second_stream


@dataclass
class InstanceWeightingConfig(MultitaskConfig):
    """Options of ``instance-weighting`` (and those of ``multitask``); each field's help is in its declaration."""

    max_weight: float = option(10.0, help="Largest weight of a source example before normalisation "
                               "(clipping keeps a few look-alikes from taking over).", gt=0)
    reweight: str = option("none", help="tradaboost: after each epoch, multiply the weight of each source example "
                           "the model misclassifies by β = 1/(1+sqrt(2 ln n / epochs)) and redraw the source "
                           "stream (Dai et al., 2007); none: keep the domain classifier's weights.",
                           choices=("none", "tradaboost"))


@register_strategy("instance-weighting", "source examples join the target's training, resampled by their "
                   "estimated relevance to the target (density ratio from a domain classifier)")
class InstanceWeighting(Multitask):
    Config = InstanceWeightingConfig
    config: InstanceWeightingConfig
    same_classes: ClassVar[bool] = True

    def fit(self, ctx: FitContext) -> Any:
        # Weights from the pretrained features, before any training moves them.
        weights = source_weights(ctx, self.config.max_weight)
        _note(weights)
        self._stream = _WeightedStream(ctx.source, weights, ctx.seed)  # type: ignore[arg-type]
        result = super(Multitask, self).fit(_with_second_stream(ctx, self._stream.subset))
        #: The source weights the run started from and those it ended with (equal without --reweight).
        self.weights = (weights, self._stream.weights)
        _plot(ctx, weights, self._stream.weights if self.config.reweight == "tradaboost" else None)
        return result

    def callbacks(self, ctx: FitContext) -> list[Callback]:
        if self.config.reweight == "tradaboost":
            return [*super().callbacks(ctx), _TrAdaBoost(ctx, self._stream)]
        return super().callbacks(ctx)

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


def tradaboost_beta(n_source: int, rounds: int) -> float:
    """TrAdaBoost's factor for a misclassified source example: ``1/(1 + sqrt(2 ln n / N))``."""
    return 1.0 / (1.0 + math.sqrt(2.0 * math.log(max(n_source, 1)) / max(rounds, 1)))


def tradaboost_update(weights: np.ndarray, wrong: np.ndarray, beta: float) -> np.ndarray:
    """``weights`` with the misclassified examples' multiplied by ``beta``, renormalised to mean 1."""
    w = np.asarray(weights, dtype=np.float64) * np.where(np.asarray(wrong, dtype=bool), beta, 1.0)
    return w / w.mean()


class _WeightedStream:
    """The source resampled with replacement in proportion to its weights; ``draw`` replaces the
    indices in place, so the engine's next epoch reads the new sample."""

    def __init__(self, source: Dataset, weights: np.ndarray, seed: int) -> None:
        self.seed = seed
        self.subset = Subset(source, [])
        self.subset.collate = getattr(source, "collate", None)  # type: ignore[attr-defined]
        self.draw(weights, 0)

    def draw(self, weights: np.ndarray, epoch: int) -> None:
        self.weights = weights
        rng = np.random.default_rng(self.seed if epoch == 0 else [self.seed, epoch])
        drawn = rng.choice(len(weights), size=len(weights), replace=True, p=weights / weights.sum())
        self.subset.indices = drawn.tolist()


class _TrAdaBoost:
    """After each epoch: the source examples the model gets wrong lose weight; the stream is redrawn.

    Each epoch's weights are kept in ``checkpoints/tradaboost_weights.npz`` so a resumed run
    continues from the weights the interrupted one had reached at its checkpoint's epoch.
    """

    def __init__(self, ctx: FitContext, stream: _WeightedStream) -> None:
        self.ctx, self.stream = ctx, stream
        self.data = ctx.source_plain if ctx.source_plain is not None else ctx.source
        self.beta = tradaboost_beta(len(stream.weights), ctx.train_config.epochs)
        self.epoch = 0  # the epoch whose weights the stream holds
        self.saved: dict[str, np.ndarray] = {"e0": stream.weights}
        self.path = ctx.run_dir / "checkpoints" / "tradaboost_weights.npz" if ctx.run_dir is not None else None

    def on_epoch_start(self, epoch: int, module: nn.Module) -> None:
        if epoch == self.epoch:
            return
        # A resumed run starts past epoch 0: take up the weights that epoch was drawn from.
        if self.path is not None and self.path.is_file():
            with np.load(self.path) as saved:
                self.saved = {k: saved[k] for k in saved.files}
        if f"e{epoch}" not in self.saved:
            from graft.errors import CheckpointError

            raise CheckpointError(
                f"--resume at epoch {epoch} of an instance-weighting run with --reweight tradaboost, but "
                f"'{self.path}' lacks that epoch's source weights. Fix: start the run afresh without --resume."
            )
        self.stream.draw(self.saved[f"e{epoch}"], epoch)
        self.epoch = epoch

    def on_epoch_end(self, epoch: int, module: nn.Module) -> None:
        from graft.engine.evaluate import predict_logits

        model = self.ctx.model
        device = next(model.parameters()).device
        logits, y, _ = predict_logits(model, self.data, device=device)  # type: ignore[arg-type]
        wrong = (logits.argmax(1) != y).numpy()
        self.epoch = epoch + 1
        weights = tradaboost_update(self.stream.weights, wrong, self.beta)
        self.stream.draw(weights, self.epoch)
        self.saved[f"e{self.epoch}"] = weights.astype(np.float32)
        if self.path is not None:
            from graft.io import atomic_path

            with atomic_path(self.path) as tmp, open(tmp, "wb") as f:
                # numpy types **kwds against allow_pickle too; every key here is "e<epoch>".
                np.savez(f, **self.saved)  # type: ignore[arg-type]


def _ess(weights: np.ndarray) -> float:
    """Effective sample size as a share of the examples."""
    return float(weights.sum() ** 2 / (weights**2).sum()) / len(weights)


def _note(weights: np.ndarray) -> None:
    from graft.notes import note

    note(f"instance-weighting: {len(weights)} source examples weighted by relevance to the target; the "
         f"effective sample size is {100 * _ess(weights):.0f} % of them (max weight {weights.max():.2f}).")


def _plot(ctx: FitContext, weights: np.ndarray, final: np.ndarray | None) -> None:
    if ctx.run_dir is None:
        return
    from graft.report.plots import plot_weights

    (ctx.run_dir / "plots").mkdir(parents=True, exist_ok=True)
    title = f"source weights p_t/p_s (effective sample size {100 * _ess(weights):.0f} %)"
    if final is not None:
        title += f"; after TrAdaBoost {100 * _ess(final):.0f} %"
    plot_weights(weights, ctx.run_dir / "plots" / "source_weights.png", title, final=final)
