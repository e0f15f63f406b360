"""co-tuning: keep the source head and train it too, on soft source labels translated from the
target labels (You et al., 2020).

Fine-tuning throws the source head away; co-tuning learns once how the target classes relate
to the source's categories (the source model's mean predicted distribution over the target
examples of each class) and then asks the source head, on top of the shared backbone, to
predict ``relationship[y]`` for every target example. The source task's knowledge keeps
shaping the backbone through its own head. Needs a model with a source head: a ``run:DIR``
model (its head is the source task's) or a pretrained built-in that ships its classifier
(EfficientNet-Lite's 1000 ImageNet classes). The saved model keeps the target head only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from graft.engine.features import extract_features
from graft.engine.trainer import Batch
from graft.errors import ConfigError
from graft.models.spec import GraftModel
from graft.options import Search, option
from graft.strategies.base import FitContext, ModelWithExtras, module_extras, register_strategy
from graft.strategies.finetune import FinetuneConfig
from graft.strategies.multitask import ExtraHeadFinetune


@dataclass
class CoTuningConfig(FinetuneConfig):
    """Options of ``co-tuning`` (and those of ``finetune``); each field's help is in its declaration."""

    # You et al. 2020 (and TLlib) use a trade-off of 2.3 on their benchmarks.
    co_weight: float = option(2.3, help="Weight of the source head's loss on the translated soft labels.", ge=0,
                              search=Search(0.1, 10.0, log=True))


@register_strategy("co-tuning", "fine-tune while the source head learns soft source labels translated from the "
                   "target labels (needs a run: model or an ImageNet built-in)")
class CoTuning(ExtraHeadFinetune):
    Config = CoTuningConfig
    config: CoTuningConfig
    needs: ClassVar[frozenset[str]] = frozenset({"source_head"})

    def check(self, model: GraftModel, train: Dataset) -> None:
        if not has_source_head(model):
            from graft.models.source_heads import SOURCE_HEADS

            raise ConfigError(
                "The 'co-tuning' strategy trains the model's source head too, but this model has none that "
                "graft knows (it was not loaded from a run directory, and it is not a pretrained built-in that "
                f"ships its classifier). Allowed: --model run:DIR (a run trained on the source task), "
                f"{', '.join(SOURCE_HEADS)}. Fix: graft pretrain the source first and pass --model run:DIR, or "
                "use --strategy finetune."
            )

    def prepare(self, ctx: FitContext) -> None:
        self.check(ctx.model, ctx.train)
        head = source_head(ctx.model)
        device = next(ctx.model.backbone.parameters()).device
        # The relationship is measured before training: pretrained backbone, source head.
        feats, labels = extract_features(ctx.model.backbone, ctx.labeled_plain(), device=device)
        with torch.no_grad():
            probs = torch.softmax(head(feats), 1)
        self.relationship = relationship(probs, labels, ctx.model.num_classes)
        super().prepare(ctx)
        self._module = ModelWithExtras(ctx.model, {"source_head": head})

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        x, y = batch["x"], batch["y"]
        logits, feats = module(x, return_features=True)
        ce = F.cross_entropy(logits, y, label_smoothing=self.config.label_smoothing)
        source_logits = module_extras(module)["source_head"](feats)
        soft = self.relationship.to(source_logits.device)[y]
        co = -(soft * F.log_softmax(source_logits, 1)).sum(1).mean()
        return {"loss": ce + self.config.co_weight * co, "ce": ce.detach(), "co_tuning": co.detach(),
                "accuracy": (logits.detach().argmax(1) == y).float().mean()}


def has_source_head(model: GraftModel) -> bool:
    """Whether graft knows the model's source head: a ``run:DIR`` model's saved head, or the
    classifier a pretrained built-in ships (``graft.models.source_heads.SOURCE_HEADS``)."""
    from graft.models.source_heads import SOURCE_HEADS

    pretrained = bool((model.spec.recipe.get("options") or {}).get("pretrained", True))
    return model.source_run is not None or (model.spec.name in SOURCE_HEADS and pretrained)


def source_head(model: GraftModel) -> nn.Module:
    """A trainable copy of the model's source head (see :func:`has_source_head`)."""
    if model.source_run is not None:
        from graft.models import load_model

        return load_model(model.source_run).head
    from graft.models.source_heads import SOURCE_HEADS

    return SOURCE_HEADS.get(model.spec.name)(model)


def relationship(source_probs: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``[n_classes, n_source]``: per target class, the mean source-head distribution of its
    examples; a class without examples gets the overall mean.

    Example:
        >>> p = torch.tensor([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8]], dtype=torch.float64)
        >>> relationship(p, torch.tensor([0, 0, 1]), 2).tolist()
        [[0.8, 0.2], [0.2, 0.8]]
    """
    out = source_probs.mean(0, keepdim=True).repeat(n_classes, 1)
    for c in range(n_classes):
        rows = labels == c
        if rows.any():
            out[c] = source_probs[rows].mean(0)
    return out
