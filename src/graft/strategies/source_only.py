"""source-only: train on the labeled source, no alignment — the DA baseline.

It still sees the target stream (batch norm over both domains) and selects its
checkpoint with the same label-free validator, so the comparison is fair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from graft.strategies.adaptation import AdaptationConfig, DomainAdaptation
from graft.strategies.base import register_strategy


@dataclass
class SourceOnlyConfig(AdaptationConfig):
    """Options of ``source-only`` (those of every domain-adaptation strategy)."""


@register_strategy("source-only", "DA baseline: labeled source only, label-free checkpoint selection")
class SourceOnly(DomainAdaptation):
    Config = SourceOnlyConfig
    adapts: ClassVar[bool] = False  # its own run is the source-only reference
    text_warm_start: ClassVar[int | None] = None  # no target term to protect: its text figures stand as measured
