"""Parameter-efficient adapters (LoRA, IA3) through ``peft``, on any GraftModel backbone.

The modules an adapter wraps come from the backbone's spec (``adapter_targets``: the
linear layers of transformer blocks, the non-grouped convolutions of CNNs), or from
the user. Only the adapter's parameters and the head train. After training the adapter
is merged into the backbone weights, so a saved run is a plain model: ``run:DIR``,
``predict`` and export need no peft.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from graft.errors import ConfigError
from graft.models.spec import GraftModel
from graft.options import Options, Search, option

ADAPTERS = ("none", "lora", "ia3")


@dataclass
class AdapterOptions(Options):
    """Options of an adapter (the ``lora``/``ia3`` strategies, and ``--adapter`` on others);
    each field's help is in its declaration."""

    option_owner = "the adapter options"

    adapter: str = option("none", help="Parameter-efficient adapter in the frozen backbone.", choices=ADAPTERS)
    lora_r: int = option(8, help="LoRA rank.", ge=1, search=Search(2, 32, log=True, when={"adapter": ("lora",)}))
    lora_alpha: float = option(16.0, help="LoRA scaling numerator (the update is scaled by alpha / r).", gt=0,
                               search=Search(4.0, 64.0, log=True, when={"adapter": ("lora",)}))
    lora_dropout: float = option(0.1, help="Dropout on the LoRA branch's input.", ge=0, lt=1)
    adapter_targets: tuple[str, ...] | None = option(
        None, help="Module names or regular expressions to wrap, comma-separated (e.g. query,value).",
        unset="wrap the modules the model's spec names")


def add_adapter(model: GraftModel, options: AdapterOptions) -> int:
    """Wrap ``model.backbone`` with the adapter in place; freeze everything else in it.

    Returns:
        The number of backbone modules wrapped.

    Raises:
        ConfigError: Unknown adapter, bad rank or dropout, or targets that match nothing.
    """
    if options.adapter not in ADAPTERS:
        raise ConfigError(f"--adapter must be one of {', '.join(ADAPTERS)}. Got '{options.adapter}' instead.")
    if options.adapter == "none":
        return 0
    if options.lora_r < 1 or not 0 <= options.lora_dropout < 1:
        raise ConfigError(
            f"--lora-r must be >= 1 and --lora-dropout in [0, 1). Got r={options.lora_r}, "
            f"dropout={options.lora_dropout}."
        )
    import peft

    targets = resolve_targets(model, options.adapter_targets)
    if options.adapter == "lora":
        # peft annotates lora_alpha as int; any number works (the scale is alpha / r).
        config: Any = peft.LoraConfig(r=options.lora_r, lora_alpha=options.lora_alpha,  # type: ignore[arg-type]
                                      lora_dropout=options.lora_dropout, target_modules=targets, bias="none")
    else:
        modules = dict(model.backbone.named_modules())
        feedforward = [t for t in targets if _is_feedforward(t, modules[t])]
        config = peft.IA3Config(target_modules=targets, feedforward_modules=feedforward)
    model.backbone = peft.get_peft_model(model.backbone, config)
    for p in model.head.parameters():
        p.requires_grad_(True)
    return len(targets)


def merge_adapter(model: GraftModel) -> bool:
    """Fold a trained adapter into the backbone weights; True when there was one."""
    backbone = model.backbone
    merge = getattr(backbone, "merge_and_unload", None)
    if merge is None or not hasattr(backbone, "peft_config"):
        return False
    model.backbone = merge()
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    return True


def resolve_targets(model: GraftModel, override: Sequence[str] | None) -> list[str]:
    """Full names of the modules to wrap: the spec's targets, or those the override matches.

    An override entry matches a module whose name equals it, ends in ``.ENTRY``, or
    fully matches it as a regular expression.
    """
    modules = dict(model.backbone.named_modules())
    candidates = [n for n in model.spec.adapter_targets if _wrappable(modules.get(n))]
    if override:
        everything = [n for n, m in modules.items() if n and _wrappable(m)]
        chosen = [n for n in everything if any(_matches(n, pattern) for pattern in override)]
        if not chosen:
            raise ConfigError(
                f"--adapter-targets {','.join(override)} match no linear or convolution module of "
                f"{model.spec.name}. Examples of names: {', '.join(everything[:6])}. "
                "Fix: pass module names or their last part (e.g. query,value)."
            )
        return chosen
    if not candidates:
        raise ConfigError(
            f"{model.spec.name} names no modules an adapter can wrap. Fix: pass --adapter-targets "
            "with the names of its nn.Linear or nn.Conv2d modules."
        )
    return candidates


def _wrappable(module: nn.Module | None) -> bool:
    return isinstance(module, nn.Linear) or (isinstance(module, nn.Conv2d) and module.groups == 1)


def _matches(name: str, pattern: str) -> bool:
    if name == pattern or name.endswith(f".{pattern}"):
        return True
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return False


def _is_feedforward(name: str, module: nn.Module) -> bool:
    # IA3 scales the input of feed-forward layers and the output of the others; a layer
    # that widens or narrows the features (an MLP's second linear, a 1x1 projection) is
    # treated as feed-forward.
    if isinstance(module, nn.Linear):
        return module.in_features > module.out_features or bool(re.search(r"output\.dense$|fc2$|mlp", name))
    return False
