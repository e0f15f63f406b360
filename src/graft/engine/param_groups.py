"""Optimizer parameter groups as a pure function of a GraftModel.

Every group is created up front and tagged with ``lr_scale``; freezing a group later
only toggles ``requires_grad`` (a frozen parameter has no gradient, so the optimizer
skips it), which keeps schedulers and resume intact.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from graft.models.spec import GraftModel


def layer_scales(n_groups: int, layer_decay: float | None, head_lr_scale: float = 1.0) -> list[float]:
    """Learning-rate scales, input side first; the last group is the head.

    With layer decay ``d``, the group ``k`` steps below the head gets ``d**k``.
    """
    scales = [1.0] * n_groups
    if layer_decay is not None:
        scales = [layer_decay ** (n_groups - 1 - i) for i in range(n_groups)]
    scales[-1] = head_lr_scale
    return scales


def model_param_groups(
    model: GraftModel,
    *,
    weight_decay: float,
    layer_decay: float | None = None,
    head_lr_scale: float = 1.0,
    extra: dict[str, nn.Module] | None = None,
    pretrained: bool = True,
) -> list[dict[str, Any]]:
    """Groups for every layer group of ``model``, split by weight decay.

    Args:
        model: The model; its spec gives groups, the no-weight-decay set and the
            backbone's LR scale (``spec.lr_scale``, 0.1 for transformers).
        weight_decay: Decay of weights; norms, biases and the spec's set get 0.
        layer_decay: Layer-wise LR decay factor (e.g. 0.7), or None for none.
        head_lr_scale: LR multiplier of the head.
        extra: Other trainable modules of a strategy (a domain discriminator),
            trained at the head's scale.
        pretrained: The backbone holds pretrained weights, so ``spec.lr_scale``
            applies; False for weights trained from scratch.

    Returns:
        Groups with ``params``, ``weight_decay``, ``lr_scale``, ``name``, ``layer``,
        including groups whose parameters are frozen now (they may be unfrozen later).
    """
    layers = model.layer_groups()
    scales = layer_scales(len(layers), layer_decay, head_lr_scale)
    if pretrained:  # the backbone's own scale
        scales = [s * model.spec.lr_scale for s in scales[:-1]] + scales[-1:]
    no_decay = {f"backbone.{n}" for n in model.spec.no_weight_decay}
    groups: list[dict[str, Any]] = []
    for i, (layer, scale) in enumerate(zip(layers, scales)):
        for decay in (True, False):
            params = [
                p for n, p in layer if (n not in no_decay and p.ndim > 1) == decay
            ]
            if params:
                groups.append(
                    {
                        "params": params,
                        "weight_decay": weight_decay if decay else 0.0,
                        "lr_scale": scale,
                        "layer": i,
                        "name": f"layer{i}{'' if decay else '_no_decay'}",
                    }
                )
    return groups + _extra_groups(extra, weight_decay, head_lr_scale, layer=len(layers))


def trainable_param_groups(
    model: GraftModel,
    *,
    weight_decay: float,
    head_lr_scale: float = 1.0,
    extra: dict[str, nn.Module] | None = None,
) -> list[dict[str, Any]]:
    """Two groups, the backbone's trainable parameters (an adapter's) and the head, plus ``extra``.

    For a backbone that is frozen except for inserted modules (LoRA, IA3): the frozen
    weights are left out of the optimizer altogether.
    """
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = []
    if backbone:
        groups.append({"params": backbone, "weight_decay": weight_decay, "lr_scale": 1.0, "layer": 0,
                       "name": "adapter"})
    groups.append({"params": list(model.head.parameters()), "weight_decay": weight_decay,
                   "lr_scale": head_lr_scale, "layer": 1, "name": "head"})
    return groups + _extra_groups(extra, weight_decay, head_lr_scale, layer=2)


def _extra_groups(extra: dict[str, nn.Module] | None, weight_decay: float, lr_scale: float,
                  layer: int) -> list[dict[str, Any]]:
    """One group per extra trainable module of a strategy (a domain discriminator)."""
    groups = []
    for name, module in (extra or {}).items():
        params = list(module.parameters())
        if params:
            groups.append({"params": params, "weight_decay": weight_decay, "lr_scale": lr_scale,
                           "layer": layer, "name": name})
    return groups
