"""Pretraining methods, chosen by name: ``supervised`` (labels), and the self-supervised
``simclr`` and ``rotation`` (no labels; :mod:`graft.self_supervised`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from graft.registry import Registry

PretrainFn = Callable[..., Any]
PRETRAIN_METHODS: Registry[PretrainFn] = Registry("pretraining method")


@PRETRAIN_METHODS.register("supervised", "train every layer on a labeled source set")
def supervised(model: Any, data: Any, *, out: str | Path | None = None, seed: int = 0, **options: Any) -> Any:
    """Supervised pretraining: every layer trains with cross-entropy on the source labels.

    Most of the source is used for training (90 %, with 10 % of that for validation and
    early stopping); a 10 % test split reports the source accuracy.
    """
    from graft.api import fit

    defaults = {"lp_init": False, "layer_decay": None, "label_smoothing": 0.0, "test_fraction": 0.1,
                "val_fraction": 0.1, "epochs": 10, "lr": 1e-3, "warmup_epochs": 0.5}
    return fit(model, data, "finetune", seed=seed, out=out, **{**defaults, **options})


def _self_supervised(method: str) -> PretrainFn:
    def run(model: Any, data: Any, *, out: str | Path | None = None, seed: int = 0, **options: Any) -> Any:
        from graft.self_supervised import pretrain_self_supervised

        return pretrain_self_supervised(method, model, data, out=out, seed=seed, **options)

    return run


PRETRAIN_METHODS.register("simclr", "no labels: two random views of each example find each other (SimCLR; "
                          "SimCSE dropout views for text)")(_self_supervised("simclr"))
PRETRAIN_METHODS.register("rotation", "no labels: predict the rotation (0/90/180/270 degrees) of each image")(
    _self_supervised("rotation"))
