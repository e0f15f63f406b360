"""contrastive: tune the backbone so that examples of one class embed close together, then fit
the head on the tuned features.

With a few labels, a head learned by cross-entropy pulls little signal into the backbone;
a contrastive objective over pairs of the labeled examples does (SetFit, Tunstall et al.
2022: K labels give K²-order pairs). Every batch contributes all of its pairs at once:
``--loss cosine`` is SetFit's (cosine similarity regressed to 1 for a same-class pair, 0
otherwise), ``--loss supcon`` the supervised contrastive loss (Khosla et al., 2020). For
images, a randomly shifted and rotated copy of each example joins the batch as its own
positive, so even one label per class forms pairs.

After every epoch the head is refitted as a linear probe on the tuned features (C chosen on
validation, whose features the refit computes once for both), so each epoch is validated as
the model it would ship; the
probe on the untouched backbone competes as epoch 0, and the tuned backbone replaces it
only when validation shows a gain beyond noise (``--start-margin-se``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from graft.data.base import dataset_labels, dataset_size
from graft.data.batch_augment import random_affine_batch
from graft.engine.config import process_count
from graft.engine.features import extract_features
from graft.engine.param_groups import model_param_groups
from graft.engine.trainer import Batch, Callback, FitResult, num_batches
from graft.errors import ConfigError
from graft.losses import pair_cosine_loss, supervised_contrastive_loss
from graft.models.spec import GraftModel
from graft.options import Search, option
from graft.strategies.base import FitContext, Strategy, StrategyConfig, register_strategy
from graft.strategies.finetune import freeze_batchnorm
from graft.strategies.head_self_training import HeadSelfTrainingOptions, needs_with_rounds, self_training_summary
from graft.strategies.linear_probe import LinearProbeConfig, fit_head_on_features, fit_probe_head_self_trained

LOSSES = ("cosine", "supcon")
#: The unset --min-epoch-steps of image models.
IMAGE_EPOCH_STEPS = 50


@dataclass
class ContrastiveConfig(HeadSelfTrainingOptions):
    """Options of ``contrastive``; each field's help is in its declaration."""

    loss: str = option("cosine", help="cosine: SetFit's pair loss (same class → similarity 1, other → 0); "
                       "supcon: supervised contrastive loss with --temperature.", choices=LOSSES)
    temperature: float = option(0.1, help="Temperature of --loss supcon.", gt=0,
                                search=Search(0.03, 0.5, log=True, when={"loss": ("supcon",)}))
    second_view: bool = option(True, help="Images: add a shifted, rotated copy of each example as its own "
                               "positive (no effect on text and tables).")
    view_shift: float = option(0.1, help="Largest random shift of the second view (fraction of the size).",
                               ge=0, lt=1)
    view_rotate: float = option(15.0, help="Largest rotation of the second view, in degrees.", ge=0, le=180)
    layer_decay: float | None = option(
        None, help="Layer-wise LR decay: the group k steps below the top learns at lr × layer_decay^k.",
        gt=0, le=1, unset="give every group the same LR", search=Search(0.5, 1.0))
    freeze_bn: bool = option(True, help="Keep batch-norm statistics fixed (the source's running mean/var).")
    # B2 (EfficientNet-Lite0 → digits, 20 epochs, seeds 0-2): one pass over the 100 labeled images of
    # K=10 is 7 steps, 0.901; 20 steps 0.926; 50 steps 0.941 (K=5: 0.808 → 0.890). LeNet pretrained on
    # MNIST moves within noise (K=10 0.918 → 0.912). Text overfits: B3 K=5 with 20 steps 0.909 vs 0.927.
    min_epoch_steps: int | None = option(
        None, help="Optimizer steps an epoch takes at least, the labeled examples cycling: a few labels make "
        "one pass a handful of steps. Ignored when --steps-per-epoch is given.", ge=1, example=50,
        unset=f"{IMAGE_EPOCH_STEPS} for images (each step draws new random second views); one pass for text "
        "and tables (a repeated batch is the same pairs again)")


@register_strategy("contrastive", "contrastive tuning of the backbone on same-class pairs (SetFit, SupCon), "
                   "then a probe head on the tuned features")
class Contrastive(Strategy):
    Config = ContrastiveConfig
    config: ContrastiveConfig
    # SetFit's recipe: AdamW, linear decay after a short warm-up. A transformer's backbone
    # learns at lr × 0.1 (its spec's lr_scale), which is SetFit's 2e-5 for MiniLM.
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 2e-4, "epochs": 20, "batch_size": 16, "weight_decay": 0.01,
        "warmup_epochs": 1.0, "schedule": "linear", "augment": "light", "patience": None,
    }

    @classmethod
    def needs_for(cls, config: StrategyConfig) -> frozenset[str]:
        return needs_with_rounds(cls.needs, config)

    def fit(self, ctx: FitContext) -> FitResult:
        steps = self._epoch_steps(ctx)
        if steps is not None:
            ctx.train_config = dataclasses.replace(ctx.train_config, steps_per_epoch=steps)
        result = super().fit(ctx)
        if steps is not None:
            result.extra_metrics["steps_per_epoch"] = steps
        if self.config.self_train_rounds and ctx.target_plain() is not None:
            # The tuned backbone's head, refitted with pseudo-labels on the unlabeled examples.
            param = next(ctx.model.backbone.parameters())
            rows, shares = fit_probe_head_self_trained(ctx, LinearProbeConfig(), self.config.self_train_rounds,
                                                       prior=self.config.self_train_prior, cache=False)
            ctx.model.head.to(device=param.device, dtype=param.dtype)
            for p in ctx.model.head.parameters():
                p.requires_grad_(False)
            result.extra_metrics.update(self_training_summary(rows, shares))
        return result

    def _epoch_steps(self, ctx: FitContext) -> int | None:
        """The steps of an epoch longer than one pass over the labeled examples, or None (one pass is
        enough, or --steps-per-epoch rules)."""
        cfg = ctx.train_config
        least = self.config.min_epoch_steps
        if least is None and ctx.model.spec.input.kind == "image":
            least = IMAGE_EPOCH_STEPS
        world = process_count(cfg.devices, cfg.num_nodes, cfg.accelerator)
        one_pass = num_batches(dataset_size(ctx.train), cfg.batch_size, world)  # on each rank
        if cfg.steps_per_epoch is not None or least is None or least <= one_pass:
            return None
        return least

    def check(self, model: GraftModel, train: Dataset) -> None:
        if not (self.config.second_view and model.spec.input.kind == "image"):
            _check_pairs(model, train)

    def prepare(self, ctx: FitContext) -> None:
        self._images = ctx.model.spec.input.kind == "image"
        self.check(ctx.model, ctx.labeled_plain())  # a strategy used outside graft.fit
        for p in ctx.model.head.parameters():  # the head is refitted, never stepped
            p.requires_grad_(False)
        refit_head(ctx)  # with validation, the engine's start evaluation refits it on C chosen there

    def param_groups(self, ctx: FitContext) -> list[dict[str, Any]]:
        groups = model_param_groups(ctx.model, weight_decay=ctx.train_config.weight_decay,
                                    layer_decay=self.config.layer_decay)
        top = max(g["layer"] for g in groups)
        return [g for g in groups if g["layer"] != top]  # the head's group

    # Every epoch's head is a probe refitted on the tuned features, like the start's: B3 K=10
    # seed 1 kept the probe (0.902) on a one-article accuracy gain while the loss halved (0.946).
    loss_clears_start: ClassVar[bool] = True

    def start_is_candidate(self, ctx: FitContext) -> bool:
        return True

    def callbacks(self, ctx: FitContext) -> list[Callback]:
        return [_FreezeBatchNorm(self, ctx)]

    def evaluator(self, ctx: FitContext) -> Any:
        # The head is refitted on the validation features it needs anyway: one pass, not two.
        return lambda module, val: refit_head(ctx, val)

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.config
        x, y = batch["x"], batch["y"]
        if self._images and cfg.second_view:
            x = torch.cat([x, random_affine_batch(x, cfg.view_shift, cfg.view_rotate, (0.9, 1.1))])
            y = torch.cat([y, y])
        _, features = module(x, return_features=True)
        if cfg.loss == "cosine":
            loss = pair_cosine_loss(features, y)
        else:
            loss = supervised_contrastive_loss(features, y, cfg.temperature)
        return {"loss": loss}


class _FreezeBatchNorm:
    """Batch-norm statistics fixed at each epoch's start (the source's running mean/var); without
    validation, the head refitted at each epoch's end."""

    def __init__(self, strategy: Contrastive, ctx: FitContext) -> None:
        self.strategy, self.ctx = strategy, ctx

    def on_epoch_start(self, epoch: int, module: nn.Module) -> None:
        if self.strategy.config.freeze_bn:
            freeze_batchnorm(self.ctx.model.backbone)

    def on_epoch_end(self, epoch: int, module: nn.Module) -> None:
        if self.ctx.val is None or dataset_size(self.ctx.val) == 0:
            refit_head(self.ctx)  # no validation refits it: the shipped head must match the features


def refit_head(ctx: FitContext, val: Dataset | None = None) -> dict[str, torch.Tensor]:
    """Fit the head as a linear probe on the backbone's current features, where the backbone is;
    returns the per-example validation loss and accuracy of the refitted model (empty without ``val``)."""
    param = next(ctx.model.backbone.parameters())
    device, dtype = param.device, param.dtype  # float64 while training at --precision 64-true
    f_tr, y_tr = extract_features(ctx.model.backbone, ctx.labeled_plain(), device=device, cache=False)
    has_val = val is not None and dataset_size(val) > 0
    f_va, y_va = (extract_features(ctx.model.backbone, val, device=device, cache=False)  # type: ignore[arg-type]
                  if has_val else (None, None))
    fit_head_on_features(ctx.model, f_tr, y_tr, f_va, y_va, LinearProbeConfig(), seed=ctx.seed)
    ctx.model.head.to(device=device, dtype=dtype)
    for p in ctx.model.head.parameters():
        p.requires_grad_(False)
    if f_va is None or y_va is None:
        return {}
    with torch.no_grad():
        logits = ctx.model.head(f_va.to(device, dtype)).float().cpu()
    known = y_va >= 0
    return {"loss": F.cross_entropy(logits[known], y_va[known], reduction="none"),
            "accuracy": (logits[known].argmax(1) == y_va[known]).float()}


def _check_pairs(model: GraftModel, train: Dataset) -> None:
    """Pairs need two labeled examples of a class (one suffices where images add their own view)."""
    counts = np.bincount(dataset_labels(train), minlength=model.num_classes)
    thin = [model.classes[c] for c in range(len(counts)) if counts[c] == 1]
    if thin:
        raise ConfigError(
            f"The 'contrastive' strategy needs at least 2 labeled examples in every class to form a same-class "
            f"pair; {len(thin)} class(es) have 1 (e.g. {thin[0]!r}). Allowed: 2 or more per class (images "
            "make do with 1, their shifted copy being the pair). Fix: pass --labels-per-class 2 or more, "
            "or use --strategy linear-probe."
        )
