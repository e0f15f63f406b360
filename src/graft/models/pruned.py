"""A structurally pruned model saved as plain data: the original recipe plus new widths.

Structured pruning (``torch-pruning``) removes channels and neurons in place: it slices
weights and rewrites the modules' width attributes (``out_channels``, ``in_features``,
``groups`` of a depthwise convolution, ``num_features`` of a batch norm ...). Saving the
pruned module by pickling would tie the run to code objects; instead the run keeps

* the recipe of the original architecture (``model.json``, as for any model),
* the width attributes of every module after pruning (``recipe["pruned"]``), and
* the weights with their new shapes (``model.safetensors``).

Loading rebuilds the original architecture, rewrites the widths, and gives every
parameter and buffer the shape its saved tensor has; the weights then load strictly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: Module attributes that describe a width (what structural pruning rewrites).
WIDTH_ATTRIBUTES = (
    "in_channels", "out_channels", "groups", "in_features", "out_features", "num_features",
    "normalized_shape", "num_channels", "num_groups", "embedding_dim",
    "num_attention_heads", "attention_head_size", "all_head_size", "num_heads", "head_dim", "embed_dim",
)
RECIPE_KEY = "pruned"


def _is_width(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, tuple) and all(isinstance(v, int) for v in value))


def widths_of(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Every module's width attributes, by module name (JSON-ready)."""
    out: dict[str, dict[str, Any]] = {}
    for name, module in model.named_modules():
        found = {a: getattr(module, a) for a in WIDTH_ATTRIBUTES if _is_width(getattr(module, a, None))}
        if found:
            out[name] = {a: list(v) if isinstance(v, tuple) else v for a, v in found.items()}
    return out


def apply_widths(model: nn.Module, widths: dict[str, dict[str, Any]], state: dict[str, torch.Tensor]) -> None:
    """Rewrite ``model`` (the original architecture) to the pruned one: width attributes
    from ``widths`` and every parameter or buffer resized to its tensor in ``state``."""
    modules = dict(model.named_modules())
    for name, attrs in widths.items():
        module = modules.get(name)
        if module is None:
            continue
        for attr, value in attrs.items():
            setattr(module, attr, tuple(value) if isinstance(value, list) else value)
    for key, tensor in state.items():
        owner_name, _, leaf = key.rpartition(".")
        owner = modules.get(owner_name)
        if owner is None:
            continue
        current = owner._parameters.get(leaf) if leaf in owner._parameters else owner._buffers.get(leaf)
        if current is None or tuple(current.shape) == tuple(tensor.shape):
            continue
        fresh = torch.empty(tensor.shape, dtype=current.dtype)
        if leaf in owner._parameters:
            owner._parameters[leaf] = nn.Parameter(fresh, requires_grad=current.requires_grad)
        else:
            owner._buffers[leaf] = fresh


def record_pruning(model: Any) -> None:
    """Store the model's current widths in its recipe and its feature width in its spec,
    so :func:`graft.models.factory.save_model` writes what a load needs."""
    head_in = next(m for m in model.head.modules() if isinstance(m, nn.Linear)).in_features
    model.spec.feature_dim = int(head_in)
    model.spec.recipe = {**model.spec.recipe, RECIPE_KEY: widths_of(model)}
