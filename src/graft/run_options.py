"""Options that shape data and model, not the engine or the strategy (``--image-size``,
``--label-column``, ``--split-seed``, ``--mlp-width`` ...)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from graft.options import Options, option

if TYPE_CHECKING:
    from graft.models.options import ModelOptions

POOLINGS = ("mean", "cls")


@dataclasses.dataclass
class RunOptions(Options):
    """Options that shape data and model, not the engine or the strategy.

    Each field's help is in its declaration (``graft list --options STRATEGY``).
    """

    option_owner = "the data and model options"

    split_seed: int = option(0, help="Seed of the train/val/test split (the same for every --seed).", ge=0)
    test_fraction: float = option(0.5, help="Share of the data held out for testing.", gt=0, lt=1)
    val_fraction: float = option(0.1, help="Share of the training split held out for validation (0: none).",
                                 ge=0, lt=1)
    folds: int = option(0, help="Stratified K-fold: one run per fold, mean ± std over the folds (0: one run on "
                        "the usual split).", ge=0, example=5)
    fold: int | None = option(None, help="Run only this fold (0-based) of --folds (each fold's run records it).",
                              ge=0, unset="run every fold")
    fold_scope: str = option("val", help="val: each fold is the validation split, the test split stays out; test: "
                             "each fold is the test split, so every example is tested exactly once.",
                             choices=("val", "test"))
    image_size: int | None = option(None, help="Input side of image models, overriding the model's default.",
                                    ge=1, example=64, unset="use the model's default")
    max_length: int | None = option(None, help="Token limit of text models; longer texts are truncated.",
                                    ge=1, example=128, unset="use 128, or the model's limit when shorter")
    pooling: str = option("mean", help="Pooling of text encoders: masked mean of the tokens, or the first (cls).",
                          choices=POOLINGS)
    pretrained: bool = option(True, help="Load pretrained weights (--no-pretrained: random init).")
    arch: str | None = option(None, help="Architecture of file: weights (timm:resnet18, builtin:lenet).",
                              example="timm:resnet18")
    label_column: str | None = option(None, help="Label column of a table.", unset="use the column named label")
    text_column: str | None = option(
        None, help="Text column of a table; makes it a text data set.", unset="read the table as features")
    feature_columns: tuple[str, ...] | None = option(
        None, help="Feature columns of a table, comma-separated.", unset="use every column but the label")
    tta: int = option(0, help="Test-time augmentation of image models: each example's class probabilities averaged "
                      "over it and N fixed shifted, rotated, zoomed copies, for the test figures, predict and export "
                      "(N + 1 forward passes an example; 0: off).", ge=0, le=64, example=8)
    tta_check: bool = option(True, help="Keep the --tta views only where they do not raise the loss on the "
                             "validation split (--no-tta-check: always).")
    shift_report: bool = option(
        True, help="With a source, measure the domain shift (proxy A-distance, MMD, t-SNE) before and after.")
    mlp_width: int = option(256, help="Width of each hidden layer of builtin:mlp.", ge=1)
    mlp_depth: int = option(2, help="Hidden layers of builtin:mlp.", ge=1)
    mlp_dropout: float = option(0.1, help="Dropout after each hidden layer of builtin:mlp.", ge=0, lt=1)

    def validate(self, owner: str | None = None) -> None:
        """Declared rules, then: --folds is 0 or at least 2, and --fold needs --folds."""
        super().validate(owner)
        from graft.errors import ConfigError

        if self.folds == 1:
            raise ConfigError("--folds 1 is no cross-validation. Allowed: 0 (off) or 2 and more. Fix: pass --folds 5.")
        if self.fold is not None and not 0 <= self.fold < max(self.folds, 1):
            raise ConfigError(f"--fold {self.fold} needs --folds greater than it. Got --folds {self.folds}. "
                              "Fix: pass --folds K with K > --fold, or drop --fold.")

    def split_fold(self) -> Any:
        """The :class:`~graft.data.splits.Fold` of this run, or None."""
        from graft.data.splits import Fold

        return Fold(self.fold, self.folds, self.fold_scope) if self.folds and self.fold is not None else None

    def load_options(self) -> dict[str, Any]:
        """Keyword arguments of ``load_source``."""
        out = {"label_column": self.label_column, "text_column": self.text_column,
               "feature_columns": list(self.feature_columns) if self.feature_columns else None}
        return {k: v for k, v in out.items() if v is not None}

    def model_options(self) -> ModelOptions:
        """The :class:`~graft.models.options.ModelOptions` these options ask for."""
        from graft.models.options import ModelOptions

        return ModelOptions(pretrained=self.pretrained, image_size=self.image_size, arch=self.arch,
                            hidden=(self.mlp_width,) * self.mlp_depth, dropout=self.mlp_dropout,
                            pooling=self.pooling, max_length=self.max_length)


RUN_OPTIONS = tuple(f.name for f in dataclasses.fields(RunOptions))
