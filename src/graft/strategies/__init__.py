"""Strategies, one file each, registered by name in ``STRATEGIES``.

Adding a strategy: a file here with its Config and Strategy class decorated with
``register_strategy``, its module name in ``_MODULES``, and a test file.
"""

from __future__ import annotations

import importlib

from graft.strategies.base import STRATEGIES, FitContext, Strategy, StrategyConfig, register_strategy

_MODULES = (
    "scratch", "linear_probe", "finetune", "distill", "prune", "l2sp", "delta", "bss", "semi_supervised",
    "contrastive", "co_tuning", "lora", "ia3", "multitask", "instance_weighting", "side_tune", "source_only",
    "dann", "cdan", "dan", "coral", "mcc", "self_training",
)

for _name in _MODULES:
    importlib.import_module(f"graft.strategies.{_name}")

__all__ = ["STRATEGIES", "FitContext", "Strategy", "StrategyConfig", "register_strategy"]
