"""delta: fine-tuning that keeps the feature maps near the pretrained model's, channel by channel
weighted by how much the target task relies on each (DELTA, Li et al., 2019).

L2-SP anchors every weight alike; DELTA anchors behaviour: the outputs of the top
``--delta-layers`` layer groups of the backbone are pulled toward the frozen pretrained
copy's outputs on the same batch. Each channel's weight comes once, before training, from
the pretrained model with the probe-fitted head: its estimated loss increase when the
channel is removed (first-order Taylor, ``−Σ grad·activation``, one backward pass per batch
instead of one forward pass per channel), softmax-normalised over the layer's channels.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from graft.engine.evaluate import move_to
from graft.engine.trainer import Batch
from graft.errors import ConfigError
from graft.losses import attentive_feature_distance, channel_attention, channel_axes
from graft.options import Search, option
from graft.strategies.base import FitContext, register_strategy
from graft.strategies.finetune import Finetune, FinetuneConfig

#: Examples used to estimate the channel attention (a bound on its one-off cost).
ATTENTION_EXAMPLES = 512


@dataclass
class DeltaConfig(FinetuneConfig):
    """Options of ``delta`` (and those of ``finetune``); each field's help is in its declaration."""

    # TLlib's DELTA defaults: trade-off 0.01 for the feature term, 0.01 for the head's L2.
    alpha: float = option(0.01, help="Weight α of the attention-weighted feature-map distance.", ge=0,
                          search=Search(1e-4, 1.0, log=True))
    beta: float = option(0.01, help="Weight β of β/2·||w||² over the head's weights.", ge=0,
                         search=Search(1e-4, 1.0, log=True))
    delta_layers: int = option(4, help="How many of the backbone's top layer groups have their outputs "
                               "regularized.", ge=1)


@register_strategy("delta", "fine-tune keeping feature maps near the pretrained ones, weighted by channel "
                   "attention (DELTA)")
class Delta(Finetune):
    Config = DeltaConfig
    config: DeltaConfig
    train_defaults: ClassVar[dict[str, Any]] = {**Finetune.train_defaults, "weight_decay": 0.0}
    anchors_pretrained = True

    def prepare(self, ctx: FitContext) -> None:
        super().prepare(ctx)  # LP-FT: the head is probe-fitted before the attention is measured
        self._layers = _regularized_modules(ctx.model.backbone, ctx.model.spec.groups, self.config.delta_layers)
        self._source = copy.deepcopy(ctx.model.backbone).eval().requires_grad_(False)
        source_layers = _regularized_modules(self._source, ctx.model.spec.groups, self.config.delta_layers)
        self._maps: dict[str, torch.Tensor] = {}
        self._anchor_maps: dict[str, torch.Tensor] = {}
        self._hooks = [_capture(m, name, self._maps) for name, m in self._layers]
        self._hooks += [_capture(m, name, self._anchor_maps) for name, m in source_layers]
        self._weights = _attention(ctx, [name for name, _ in self._layers], self._maps)
        self._layers = [(name, m) for name, m in self._layers if name in self._weights]
        self._head = [p for p in ctx.model.head.parameters() if p.ndim > 1]

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        self._maps.clear()
        out = super().step(module, batch)
        x = batch["x"]
        device = next(iter(self._maps.values())).device
        if next(self._source.parameters()).device != device:
            self._source.to(device)
        with torch.no_grad():
            self._source(move_to(x, device))
        names = [name for name, _ in self._layers]
        distance = attentive_feature_distance([self._maps[n] for n in names],
                                              [self._anchor_maps[n] for n in names],
                                              [self._weights[n] for n in names])
        reg = self.config.alpha * distance
        if self.config.beta and self._head:
            reg = reg + self.config.beta / 2 * sum(p.pow(2).sum() for p in self._head)
        self._maps.clear()
        self._anchor_maps.clear()
        out["loss"] = out["loss"] + reg
        out["delta"] = distance.detach()
        return out

    def finish(self, ctx: FitContext) -> None:
        for hook in self._hooks:
            hook.remove()
        self._maps.clear()
        self._anchor_maps.clear()
        del self._source
        super().finish(ctx)


def _regularized_modules(backbone: nn.Module, groups: Any, n: int) -> list[tuple[str, nn.Module]]:
    """The modules that own whole layer groups (the longest common prefix of a group's
    parameter names), the top ``n`` of them."""
    found: list[tuple[str, nn.Module]] = []
    for names in groups:
        parts = [name.split(".")[:-1] for name in names]
        prefix: list[str] = []
        for level in zip(*parts):
            if len(set(level)) != 1:
                break
            prefix.append(level[0])
        if prefix:
            name = ".".join(prefix)
            found.append((name, backbone.get_submodule(name)))
    if not found:
        raise ConfigError(
            "The 'delta' strategy regularizes the outputs of the backbone's layer groups, but this model's "
            "spec names none that a single module owns. Allowed: models whose layer groups are modules "
            "(the built-ins, timm:, hf:). Fix: use --strategy l2sp, which needs only the weights."
        )
    return found[-n:]


def _capture(module: nn.Module, name: str, store: dict[str, torch.Tensor]) -> Any:
    def hook(_: nn.Module, __: Any, output: Any) -> None:
        store[name] = output[0] if isinstance(output, (tuple, list)) else output

    return module.register_forward_hook(hook)


def _attention(ctx: FitContext, names: list[str], maps: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per layer, each channel's weight from its first-order loss increase when zeroed,
    averaged over up to ATTENTION_EXAMPLES labeled examples (pretrained backbone, fitted head)."""
    model = ctx.model
    data = ctx.labeled_plain()
    loader = DataLoader(data, batch_size=32, shuffle=False, collate_fn=getattr(data, "collate", None))
    sums: dict[str, torch.Tensor] = {}
    seen = 0
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval().requires_grad_(True)  # activations need a graph even where a group is frozen now
    device = next(model.parameters()).device
    for x, y in loader:
        maps.clear()
        logits = model(move_to(x, device))
        acts = [maps[n] for n in names]
        grads = torch.autograd.grad(F.cross_entropy(logits, torch.as_tensor(y).to(device), reduction="sum"), acts,
                                    allow_unused=True)
        for n, a, g in zip(names, acts, grads):
            if g is None:
                continue
            _, spread = channel_axes(a)
            taylor = -(g * a).detach()
            per = taylor.sum(dim=spread) if spread else taylor  # [B, C]
            sums[n] = sums.get(n, 0) + per.sum(0).float().cpu()
        seen += len(y)
        if seen >= ATTENTION_EXAMPLES:
            break
    maps.clear()
    model.train(was_training)
    for p, flag in flags:
        p.requires_grad_(flag)
    model.zero_grad(set_to_none=True)
    # a layer the logits do not depend on has no gradient and is left out
    return {n: channel_attention(sums[n] / max(1, seen)) for n in names if n in sums}
