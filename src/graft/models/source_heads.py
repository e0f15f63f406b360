"""The source head of a candidate: the classifier it came with, applied to its features.

LEEP and NCE read the target labels through it. A ``run:DIR`` model's saved head is its
source head (the classes of the data it was trained on); built-in models that ship their
classifier register a builder in :data:`SOURCE_HEADS` under their spec. Every other model
has none, and those scores show a note instead of a value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from graft.models import GraftModel, ModelOptions
from graft.registry import Registry

HeadBuilder = Callable[[GraftModel], nn.Module]

#: Spec → builder of the source head of a model built from that spec with pretrained weights.
SOURCE_HEADS: Registry[HeadBuilder] = Registry("source head")


def _efficientnet_lite_head(variant: int) -> HeadBuilder:
    def build(model: GraftModel) -> nn.Module:
        from graft.models.efficientnet_lite import imagenet_state_dict

        weights = imagenet_state_dict(model.backbone, variant)
        head = nn.Linear(weights["classifier.weight"].shape[1], weights["classifier.weight"].shape[0])
        head.load_state_dict({"weight": weights["classifier.weight"], "bias": weights["classifier.bias"]})
        return head

    return build


for _variant in (0, 1, 2):
    SOURCE_HEADS.register(
        f"builtin:efficientnet-lite{_variant}", help="the 1000-way ImageNet classifier of the package weights",
    )(_efficientnet_lite_head(_variant))


def source_head(spec: Any, model: GraftModel, options: ModelOptions) -> tuple[nn.Module | None, str]:
    """The candidate's source head (a module on its backbone features) and a description,
    or ``(None, "none")``."""
    if isinstance(spec, str) and spec.startswith("run:"):
        from graft.models import load_model

        saved = load_model(spec[len("run:"):])
        return saved.head, f"{saved.num_classes} classes (its run)"
    if isinstance(spec, str) and spec in SOURCE_HEADS and options.pretrained:
        head = SOURCE_HEADS.get(spec)(model)
        return head, f"{_out_features(head)} classes"
    return None, "none"


@torch.no_grad()
def head_probabilities(head: nn.Module, features: torch.Tensor, batch: int = 4096) -> torch.Tensor:
    """Softmax of ``head`` over ``features`` ``[N, D]`` (float64 ``[N, Z]``), in batches."""
    head = head.eval().float()
    parts = [torch.softmax(head(features[i : i + batch].float()).double(), dim=1)
             for i in range(0, len(features), batch)]
    return torch.cat(parts)


def _out_features(head: nn.Module) -> int:
    return int([m for m in head.modules() if isinstance(m, nn.Linear)][-1].out_features)
