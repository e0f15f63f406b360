"""side-tune: the source network stays frozen; a side network (a copy of it, or a named lighter
architecture with ``--side-model``) learns the target, and their features are blended by a learned
weight α (Zhang et al., 2020, "knowledge fusion").

The base cannot forget what the source taught, however few the target labels: the side
network only adds what the target needs, and α says how much of the base was kept (logged
per epoch as ``alpha``). The head starts as a linear probe on the blended features (the base's
own, the side being a copy) and that start competes as epoch 0. A named side network whose
feature width differs from the base's is mapped to it by a zero-initialised linear projection,
so the blend starts as ``α·base(x)`` and the side grows in from there.
The saved model is one plain model (``model.json`` marks the two-network backbone), usable
as ``run:DIR``, by ``graft predict`` and by export.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import torch
from torch import nn

from graft.engine.trainer import Batch, Callback
from graft.errors import ConfigError, GraftError
from graft.models import GraftModel
from graft.models.side import RECIPE_KEY, SideTuneBackbone, side_tune_backbone
from graft.options import option
from graft.strategies.base import (
    FitContext,
    Strategy,
    register_strategy,
    supervised_step,
)
from graft.strategies.finetune import TuningOptions, freeze_batchnorm, warm_start_head


@dataclass
class SideTuneConfig(TuningOptions):
    """Options of ``side-tune`` (and the tuning options of ``finetune``); each field's help is in its declaration."""

    alpha: float = option(0.5, help="Starting weight α of the frozen base's features (1 − α for the side "
                          "network's); α is learned.", gt=0, lt=1)
    side_model: str | None = option(
        None, help="The side network's architecture: any model spec taking the base's input (builtin:lenet, "
        "builtin:mlp, timm:NAME, run:DIR), built with the base's model options; its features are projected "
        "to the base's width when they differ.", unset="a copy of the base network", example="builtin:lenet")

    def validate(self, owner: str | None = None) -> None:
        """Declared rules, then: ``side_model`` is a model spec graft can build (checked before any data loads)."""
        super().validate(owner)
        if self.side_model is not None:
            from graft.models import check_model_spec

            with _about_side(self.side_model):
                check_model_spec(self.side_model)


@register_strategy("side-tune", "frozen source network plus a trainable side network (a copy, or --side-model), "
                   "features blended by a learned α")
class SideTune(Strategy):
    Config = SideTuneConfig
    config: SideTuneConfig
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3, "epochs": 30, "weight_decay": 0.05, "warmup_epochs": 2.0, "schedule": "cosine",
        "augment": "light", "patience": None}

    def check(self, model: GraftModel, train: Any) -> None:
        if self.config.side_model is not None:  # built (and its input checked) before the run directory
            self._named_side(model)

    def prepare(self, ctx: FitContext) -> None:
        base = ctx.model.backbone
        if self.config.side_model is None:
            warm_start_head(ctx, self.config)  # on the base's features, which the blend starts from
            ctx.model.backbone = side_tune_backbone(base, alpha=self.config.alpha)
            entry: Any = True
        else:
            side = self._named_side(ctx.model)
            ctx.model.backbone = side_tune_backbone(base, side.backbone, side.spec.feature_dim,
                                                    ctx.model.spec.feature_dim, self.config.alpha)
            warm_start_head(ctx, self.config)  # on the blend, which starts as α·base (zero projection)
            entry = {"side": side.spec.recipe, "feature_dim": side.spec.feature_dim, "model": self.config.side_model}
        base.requires_grad_(False)
        ctx.model.spec.recipe = {**ctx.model.spec.recipe, RECIPE_KEY: entry}

    def _named_side(self, model: GraftModel) -> GraftModel:
        """The ``--side-model`` network for ``model`` (built once), after checking it reads the same input."""
        cached = getattr(self, "_side", None)
        if cached is not None and cached[0] is model:
            return cached[1]
        from graft.models import DataInfo, ModelOptions, build_model

        recipe = model.spec.recipe
        info = DataInfo.from_dict(recipe.get("data") or {"kind": model.spec.input.kind}, model.num_classes,
                                  list(model.classes))
        options = ModelOptions.from_dict({**(recipe.get("options") or {}), "arch": None})
        spec = str(self.config.side_model)
        with _about_side(spec):
            side = build_model(spec, info, options)
        _check_same_input(model, side, spec)
        self._side = (model, side)
        return side

    def param_groups(self, ctx: FitContext) -> list[dict[str, Any]]:
        backbone: SideTuneBackbone = ctx.model.backbone  # type: ignore[assignment]
        scale = ctx.model.spec.lr_scale
        wd = ctx.train_config.weight_decay
        return [
            {"params": [*backbone.side.parameters(), *backbone.project.parameters()], "weight_decay": wd,
             "lr_scale": scale, "layer": 0, "name": "side"},
            {"params": [backbone.alpha_logit], "weight_decay": 0.0, "lr_scale": 1.0, "layer": 1, "name": "alpha"},
            {"params": list(ctx.model.head.parameters()), "weight_decay": wd, "lr_scale": self.config.head_lr_scale,
             "layer": 1, "name": "head"},
        ]

    def start_is_candidate(self, ctx: FitContext) -> bool:
        return self.config.lp_init

    def callbacks(self, ctx: FitContext) -> list[Callback]:
        return [_FrozenBase(ctx, self.config.freeze_bn)]

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        out = supervised_step(module, batch, self.config.label_smoothing)
        backbone = cast(SideTuneBackbone, module.backbone)  # installed by prepare()
        out["alpha"] = torch.sigmoid(backbone.alpha_logit.detach())
        return out


class _FrozenBase:
    """The base network in eval mode every epoch (no dropout, fixed statistics); the side's batch
    norm frozen too unless ``--no-freeze-bn``."""

    def __init__(self, ctx: FitContext, freeze_bn: bool) -> None:
        self.ctx, self.freeze_bn = ctx, freeze_bn

    def on_epoch_start(self, epoch: int, module: nn.Module) -> None:
        backbone: SideTuneBackbone = self.ctx.model.backbone  # type: ignore[assignment]
        backbone.base.eval()
        if self.freeze_bn:
            freeze_batchnorm(backbone.side)


@contextmanager
def _about_side(spec: str) -> Iterator[None]:
    """A user error about the side network names the option it came from."""
    try:
        yield
    except GraftError as exc:
        raise type(exc)(f"--side-model {spec}: {exc}") from exc


def _check_same_input(base: GraftModel, side: GraftModel, spec: str) -> None:
    """The side network reads the very tensors prepared for the base: refuse one that expects others."""
    a, b = base.spec.input, side.spec.input
    fields: dict[str, tuple[Any, Any]] = {
        "kind": (a.kind, b.kind), "channels": (a.channels, b.channels), "width": (a.width, b.width),
        "tokenizer": (a.tokenizer, b.tokenizer),
    }
    if a.size is not None and b.size is not None:
        fields["image size"] = (a.size, b.size)
    differ = [f"{name} {side_value} (the base: {base_value})" for name, (base_value, side_value) in fields.items()
              if base_value != side_value]
    if differ:
        raise ConfigError(
            f"--side-model {spec} takes other input than the base network {base.spec.name}: {'; '.join(differ)}. "
            "Allowed: a side network reading the base's input (same kind, channels, image size, table width, "
            "tokenizer). Fix: pick such a model (e.g. builtin:lenet beside a LeNet, builtin:mlp beside a table "
            "model), or leave --side-model out to train a copy of the base."
        )
