"""The model contract: a backbone, its :class:`BackboneSpec`, and a :class:`GraftModel`.

Strategies never guess from parameter order: they ask the spec for the stem, the
ordered layer groups, the no-weight-decay set and the modules an adapter (LoRA) may
wrap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from graft.data.base import InputSpec


@dataclass
class BackboneSpec:
    """What transfer code needs to know about a backbone.

    Attributes:
        name: The model spec it was built from (``timm:resnet18``, ``builtin:lenet``).
        feature_dim: Width of the pooled features the backbone returns.
        input: What the backbone takes as input.
        groups: Ordered layer groups, input side first (group 0 is the stem); each a
            list of parameter names of the backbone.
        no_weight_decay: Parameter names that take no weight decay (norms, biases,
            embeddings).
        adapter_targets: Names of ``nn.Linear``/``nn.Conv2d`` modules an adapter
            such as LoRA may wrap.
        recipe: Everything needed to rebuild the architecture without weights
            (saved in a run's ``model/model.json``).
        lr_scale: Learning-rate multiplier of the backbone's weights relative to the
            head's, applied by every strategy that trains them. Transformers take 0.1:
            an Adam step of 1e-3 on every weight of a pretrained transformer destroys
            its features within a few steps (B3: MiniLM's validation accuracy fell from
            0.92 to 0.41 at the end of warm-up), while CNNs take 1.0.
    """

    name: str
    feature_dim: int
    input: InputSpec
    groups: list[list[str]]
    no_weight_decay: set[str] = field(default_factory=set)
    adapter_targets: list[str] = field(default_factory=list)
    recipe: dict[str, Any] = field(default_factory=dict)
    lr_scale: float = 1.0

    @property
    def stem(self) -> list[str]:
        return self.groups[0] if self.groups else []


class GraftModel(nn.Module):
    """A backbone that returns pooled features, and a linear head.

    Args:
        backbone: Module mapping a batch of inputs to features ``[B, feature_dim]``.
        spec: The backbone's spec.
        num_classes: Output width of the head.
        classes: Class names, saved with the model.
        head_hidden: Hidden widths of a non-linear head (e.g. a probe's MLP); empty
            for the usual linear head.
    """

    def __init__(
        self,
        backbone: nn.Module,
        spec: BackboneSpec,
        num_classes: int,
        classes: list[str] | None = None,
        head_hidden: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head_hidden = tuple(head_hidden)
        self.head = make_head(spec.feature_dim, num_classes, self.head_hidden)
        self.spec = spec
        self.classes = list(classes) if classes is not None else [str(i) for i in range(num_classes)]
        #: The run directory this model's backbone came from (``run:DIR``), whose head is the
        #: source task's; None for other models.
        self.source_run: str | None = None

    @property
    def num_classes(self) -> int:
        last = [m for m in self.head.modules() if isinstance(m, nn.Linear)][-1]
        return int(last.out_features)

    def forward_features(self, x: Any) -> torch.Tensor:
        return self.backbone(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, x: Any, return_features: bool = False) -> Any:
        """Logits, or ``(logits, features)`` when ``return_features`` is set.

        Strategies that need features call the module itself (not ``backbone``)
        so that wrappers such as DDP and mixed precision see every forward.
        """
        features = self.backbone(x)
        logits = self.head(features)
        return (logits, features) if return_features else logits

    def layer_groups(self) -> list[list[tuple[str, nn.Parameter]]]:
        """Parameters grouped input side first; the head is the last group.

        Parameter names are those of ``self.named_parameters()`` (``backbone.`` prefix).
        Backbone parameters not named by the spec join the group before the head.
        """
        params = dict(self.backbone.named_parameters())
        groups: list[list[tuple[str, nn.Parameter]]] = []
        seen: set[str] = set()
        for names in self.spec.groups:
            group = [(f"backbone.{n}", params[n]) for n in names if n in params and n not in seen]
            seen.update(n for n in names)
            if group:
                groups.append(group)
        rest = [(f"backbone.{n}", p) for n, p in params.items() if n not in seen]
        if rest:
            if groups:
                groups[-1].extend(rest)
            else:
                groups.append(rest)
        groups.append([(f"head.{n}", p) for n, p in self.head.named_parameters()])
        return groups


def make_head(feature_dim: int, num_classes: int, hidden: tuple[int, ...] = ()) -> nn.Module:
    """A linear head, or an MLP head (Linear-ReLU blocks, then Linear) when ``hidden`` is set."""
    if not hidden:
        return nn.Linear(feature_dim, num_classes)
    layers: list[nn.Module] = []
    width = feature_dim
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
