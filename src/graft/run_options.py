"""Options that shape data and model, not the engine or the strategy (``--image-size``,
``--label-column``, ``--split-seed`` ...)."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class RunOptions:
    """Options that shape data and model, not the engine or the strategy.

    Attributes:
        split_seed: Seed of the train/val/test split (fixed across seeds by default).
        test_fraction: Share of the data held out for testing.
        val_fraction: Share of the training split held out for validation.
        image_size: Input side of image models (e.g. 64), overriding the model's default.
        max_length: Token limit of text models (default 128); longer texts are truncated.
        pooling: Pooling of text encoders: ``mean`` or ``cls``.
        pretrained: Load pretrained weights (``--no-pretrained`` for random init).
        arch: Architecture of ``file:`` weights (``timm:resnet18``, ``builtin:lenet``).
        label_column: Label column of a table.
        text_column: Text column of a table.
        feature_columns: Feature columns of a table (default: every numeric column).
        shift_report: With a source, measure the domain shift (proxy A-distance, MMD,
            t-SNE plots) before and after training.
    """

    split_seed: int = 0
    test_fraction: float = 0.5
    val_fraction: float = 0.1
    image_size: int | None = None
    max_length: int | None = None
    pooling: str = "mean"
    pretrained: bool = True
    arch: str | None = None
    label_column: str | None = None
    text_column: str | None = None
    feature_columns: tuple[str, ...] | None = None
    shift_report: bool = True

    def load_options(self) -> dict[str, Any]:
        """Keyword arguments of ``load_source``."""
        out = {"label_column": self.label_column, "text_column": self.text_column,
               "feature_columns": list(self.feature_columns) if self.feature_columns else None}
        return {k: v for k, v in out.items() if v is not None}


RUN_OPTIONS = tuple(f.name for f in dataclasses.fields(RunOptions))
