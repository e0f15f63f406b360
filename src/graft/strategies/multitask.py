"""multitask: one backbone, a head per task, trained jointly on the labeled source and the labeled target.

The source's task keeps shaping the shared features while the few target labels train the
target head (Caruana, 1997): with MNIST as the source and 5 labeled digits per class as the
target, the backbone never forgets what the source taught. Source and target may have
different classes; the saved model keeps the target head only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from graft.data.batching import concat_inputs, input_count, take_inputs
from graft.engine.param_groups import model_param_groups
from graft.engine.trainer import Batch
from graft.options import Search, option
from graft.strategies.base import FitContext, ModelWithExtras, module_extras, register_strategy
from graft.strategies.finetune import Finetune, FinetuneConfig


@dataclass
class MultitaskConfig(FinetuneConfig):
    """Options of ``multitask`` (and those of ``finetune``); each field's help is in its declaration."""

    source_weight: float = option(1.0, help="Weight of the source task's cross-entropy.", ge=0,
                                  search=Search(0.1, 3.0, log=True))
    source_ratio: float = option(1.0, help="Source examples per labeled target example in each step (at most "
                                 "--batch-size of them).", gt=0)


class ExtraHeadFinetune(Finetune):
    """Fine-tuning with a second head on the shared features (``self._module.extras['source_head']``,
    set by ``prepare``): the engine trains the model and that head together."""

    _module: ModelWithExtras

    def module(self, ctx: FitContext) -> nn.Module:
        return self._module

    def param_groups(self, ctx: FitContext) -> list[dict[str, Any]]:
        return model_param_groups(ctx.model, weight_decay=ctx.train_config.weight_decay,
                                  layer_decay=self.config.layer_decay, head_lr_scale=self.config.head_lr_scale,
                                  extra=dict(self._module.extras.items()))


@register_strategy("multitask", "one backbone, a source head and a target head trained jointly on both labeled sets")
class Multitask(ExtraHeadFinetune):
    Config = MultitaskConfig
    config: MultitaskConfig
    needs: ClassVar[frozenset[str]] = frozenset({"source"})
    same_classes: ClassVar[bool] = False
    # An epoch is one pass over the (larger) source stream.
    train_defaults: ClassVar[dict[str, Any]] = {**Finetune.train_defaults, "epochs": 10, "warmup_epochs": 0.5}

    def prepare(self, ctx: FitContext) -> None:
        super().prepare(ctx)
        source_head = nn.Linear(ctx.model.spec.feature_dim, max(1, len(ctx.source_classes)))
        self._module = ModelWithExtras(ctx.model, {"source_head": source_head})

    def fit(self, ctx: FitContext) -> Any:
        # the labeled source is the engine's second stream
        return super().fit(_with_second_stream(ctx, ctx.source))

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.config
        x, y = batch["x"], batch["y"]
        n = input_count(x)
        m = max(1, min(input_count(batch["x_t"]), round(cfg.source_ratio * n)))
        xs, ys = take_inputs(batch["x_t"], m), batch["y_t"][:m]
        logits, feats = module(concat_inputs(x, xs), return_features=True)
        ce = F.cross_entropy(logits[:n], y, label_smoothing=cfg.label_smoothing)
        source_logits = module_extras(module)["source_head"](feats[n:])
        ce_source = F.cross_entropy(source_logits, ys)
        return {"loss": ce + cfg.source_weight * ce_source, "ce": ce.detach(), "source_ce": ce_source.detach(),
                "accuracy": (logits[:n].detach().argmax(1) == y).float().mean(),
                "source_accuracy": (source_logits.detach().argmax(1) == ys).float().mean()}


def _with_second_stream(ctx: FitContext, stream: Any) -> FitContext:
    """``ctx`` with ``stream`` as the engine's second stream (``batch['x_t']``, ``batch['y_t']``)."""
    import dataclasses

    if stream is None:
        from graft.errors import ConfigError

        raise ConfigError("internal: this strategy needs a labeled source stream (needs 'source').")
    return dataclasses.replace(ctx, target=stream)
