"""``hf:NAME_OR_PATH`` encoders from Hugging Face transformers (offline: local files only).

A first cut: the encoder is wrapped so it returns mean-pooled features; text inputs
arrive as a dict of tensors (``input_ids``, ``attention_mask``) from the data pipeline,
images as a ``pixel_values`` tensor.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from graft.data.base import InputSpec
from graft.errors import ConfigError
from graft.models.introspect import adapter_target_names, no_decay_names
from graft.models.options import DataInfo, ModelOptions
from graft.models.spec import BackboneSpec

_LAYER = re.compile(r"(?:^|\.)(?:layers?|blocks?|h)\.(\d+)\.")


class HFEncoder(nn.Module):
    """A transformers encoder returning pooled features ``[B, hidden_size]``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Any) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            out = self.model(pixel_values=x) if x.is_floating_point() else self.model(input_ids=x)
            mask = None
        else:
            inputs = dict(x)
            out = self.model(**inputs)
            mask = inputs.get("attention_mask")
        hidden = out.last_hidden_state
        if hidden.ndim == 4:
            return hidden.mean(dim=(2, 3))
        if mask is None:
            return hidden.mean(dim=1)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def build_hf(name: str, data_info: DataInfo, options: ModelOptions) -> tuple[nn.Module, BackboneSpec]:
    """Load ``name`` (a hub id in the local cache, or a local folder) with transformers.

    Raises:
        ConfigError: transformers cannot load it from local files.
    """
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(name, local_files_only=True)
        if options.pretrained:
            model = AutoModel.from_pretrained(name, local_files_only=True)
        else:
            model = AutoModel.from_config(config)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"transformers could not load 'hf:{name}' from local files ({str(exc).splitlines()[0]}). "
            "graft does not download at run time: pass a local folder saved with save_pretrained "
            "(hf:/path/to/model), or a hub id already in the local Hugging Face cache."
        ) from exc
    backbone = HFEncoder(model)
    hidden = int(getattr(config, "hidden_size", 0) or getattr(config, "hidden_sizes", [0])[-1])
    if getattr(config, "num_channels", None) and data_info.kind == "image":
        side = options.image_size or int(getattr(config, "image_size", 224))
        input_spec = InputSpec(kind="image", channels=int(config.num_channels), size=(side, side),
                               mean=(0.5,) * 3, std=(0.5,) * 3)
    else:
        max_length = getattr(config, "max_position_embeddings", None)
        input_spec = InputSpec(kind="text", max_length=int(max_length) if max_length else None)
    spec = BackboneSpec(
        name=f"hf:{name}",
        feature_dim=hidden,
        input=input_spec,
        groups=layer_index_groups(backbone),
        no_weight_decay=no_decay_names(backbone),
        adapter_targets=adapter_target_names(backbone),
    )
    return backbone, spec


def layer_index_groups(module: nn.Module) -> list[list[str]]:
    """Embeddings, then one group per numbered layer, then the rest (final norms, pooler)."""
    before: list[str] = []
    layers: dict[int, list[str]] = {}
    after: list[str] = []
    for name, _ in module.named_parameters():
        match = _LAYER.search(name)
        if match:
            layers.setdefault(int(match.group(1)), []).append(name)
        elif layers:
            after.append(name)
        else:
            before.append(name)
    groups = [before] + [layers[i] for i in sorted(layers)] + [after]
    return [g for g in groups if g]
