"""Turning a user's ``nn.Module`` into a backbone and spec, without mutating it."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from graft.data.base import InputSpec
from graft.errors import ConfigError
from graft.models.introspect import adapter_target_names, groups_by_children, no_decay_names
from graft.models.options import DataInfo, ModelOptions
from graft.models.spec import BackboneSpec
from graft.models.timm_backbone import spec_from_timm

_DEFAULT_IMAGE_SIZE = 224


class FeaturesOf(nn.Module):
    """Calls ``module.forward_features`` and pools spatial or token axes to ``[B, D]``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Any) -> torch.Tensor:
        out = self.module.forward_features(x)  # type: ignore[operator]
        if out.ndim == 4:
            return out.mean(dim=(2, 3))
        if out.ndim == 3:
            return out.mean(dim=1)
        return out


def wrap_module(module: nn.Module, data_info: DataInfo, options: ModelOptions) -> tuple[nn.Module, BackboneSpec]:
    """A deep copy of ``module`` as a feature backbone, with its spec.

    A timm model loses its classifier (``reset_classifier(0)``); another module with
    ``forward_features``/``num_features`` is pooled; any other module must already
    return features ``[batch, dim]``, and ``dim`` is found by a dry forward pass.
    """
    name = f"module:{type(module).__module__}.{type(module).__qualname__}"
    model = copy.deepcopy(module)
    if hasattr(model, "reset_classifier") and hasattr(model, "pretrained_cfg") and hasattr(model, "num_features"):
        model.reset_classifier(0)  # type: ignore[operator]
        return model, spec_from_timm(model, name, options)
    if callable(getattr(model, "forward_features", None)) and hasattr(model, "num_features"):
        model = FeaturesOf(model)
    input_spec = _input_spec(data_info, options)
    feature_dim, order = _probe(model, input_spec, data_info)
    spec = BackboneSpec(
        name=name,
        feature_dim=feature_dim,
        input=input_spec,
        groups=groups_by_children(model, order),
        no_weight_decay=no_decay_names(model),
        adapter_targets=adapter_target_names(model),
    )
    return model, spec


def _input_spec(data_info: DataInfo, options: ModelOptions) -> InputSpec:
    if data_info.kind == "table":
        return InputSpec(kind="table", width=data_info.width)
    if data_info.kind == "image":
        channels = data_info.channels or 3
        side = options.image_size
        size = (side, side) if side else data_info.size
        return InputSpec(kind="image", channels=channels, size=size,
                         mean=(0.5,) * channels, std=(0.5,) * channels)
    raise ConfigError(
        f"A Python nn.Module can be passed for image or table data only. Got {data_info.kind} data; "
        "use an hf: model for text."
    )


def _probe(model: nn.Module, input_spec: InputSpec, data_info: DataInfo) -> tuple[int, list[str]]:
    """Feature width from a dry forward pass, and the order top-level children ran in."""
    if input_spec.kind == "table":
        if not data_info.width:
            raise ConfigError("Table data without a width: cannot probe the module's feature width.")
        dummy = torch.zeros(2, data_info.width)
    else:
        height, width = input_spec.size or (_DEFAULT_IMAGE_SIZE, _DEFAULT_IMAGE_SIZE)
        dummy = torch.zeros(2, input_spec.channels, height, width)
    order: list[str] = []
    hooks = [child.register_forward_hook(lambda *_, n=name: order.append(n) if n not in order else None)
             for name, child in model.named_children()]
    was_training = model.training
    model.eval()  # keep BatchNorm running statistics untouched
    try:
        with torch.no_grad():
            out = model(dummy)
    except Exception as exc:
        raise ConfigError(
            f"A dry forward pass of the module on a dummy batch of shape {tuple(dummy.shape)} failed: {exc}. "
            "Pass a module that takes this input (set the image size with --image-size / "
            "ModelOptions(image_size=...))."
        ) from exc
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(
            f"A module passed to build_model must return features of shape [batch, dim]. Got {shape}. "
            "Pass the feature extractor without its classifier (e.g. replace the last layer with nn.Identity())."
        )
    return int(out.shape[1]), order
