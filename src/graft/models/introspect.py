"""Spec facts read off any ``nn.Module``: no-decay parameters, adapter targets, groups."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn


def no_decay_names(module: nn.Module, extra: Iterable[str] = ()) -> set[str]:
    """Names of 1-D parameters (norms, biases) plus ``extra`` names or name prefixes."""
    extra = set(extra)
    out: set[str] = set()
    for name, param in module.named_parameters():
        if param.ndim <= 1 or name in extra or any(name.startswith(f"{e}.") for e in extra):
            out.add(name)
    return out


def adapter_target_names(module: nn.Module) -> list[str]:
    """Names of ``nn.Linear`` and non-grouped ``nn.Conv2d`` modules, in module order."""
    names = []
    for name, sub in module.named_modules():
        if isinstance(sub, nn.Linear) or (isinstance(sub, nn.Conv2d) and sub.groups == 1):
            names.append(name)
    return names


def groups_by_children(module: nn.Module, order: list[str] | None = None) -> list[list[str]]:
    """One group per top-level child holding parameters.

    Args:
        module: The backbone.
        order: Child names input side first (for example the order a forward pass
            called them); children not listed follow in registration order.
            Parameters held directly by ``module`` join the first group.
    """
    children = [name for name, _ in module.named_children()]
    ordered = [c for c in (order or []) if c in children]
    ordered += [c for c in children if c not in ordered]
    groups: dict[str, list[str]] = {c: [] for c in ordered}
    root: list[str] = []
    for name, _ in module.named_parameters():
        head = name.split(".", 1)[0]
        (groups[head] if "." in name and head in groups else root).append(name)
    out = [g for g in groups.values() if g]
    if root:
        if out:
            out[0] = root + out[0]
        else:
            out = [root]
    return out
