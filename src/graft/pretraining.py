"""Pretraining methods, chosen by name (``graft pretrain --method``): ``supervised`` (labels) and
the self-supervised ``simclr`` and ``rotation`` (no labels; :mod:`graft.self_supervised`).

This module holds what the methods are, not how they run: :func:`graft.api.pretrain` runs
``supervised`` as a ``finetune`` of every layer with :data:`SUPERVISED_DEFAULTS`, and hands the
others to :func:`graft.self_supervised.pretrain_self_supervised`, so neither imports the other.
"""

from __future__ import annotations

from typing import Any

from graft.registry import Registry

#: Method name → one-line description.
PRETRAIN_METHODS: Registry[str] = Registry("pretraining method")
PRETRAIN_METHODS.register("supervised", "train every layer on a labeled source set")(
    "train every layer on a labeled source set")
PRETRAIN_METHODS.register("simclr", "no labels: two random views of each example find each other (SimCLR; "
                          "SimCSE dropout views for text)")("simclr")
PRETRAIN_METHODS.register("rotation", "no labels: predict the rotation (0/90/180/270 degrees) of each image")(
    "rotation")

#: Supervised pretraining: every layer trains with cross-entropy on the source labels; most of
#: the source is used for training (90 %, with 10 % of that for validation and selection), and
#: a 10 % test split reports the source accuracy.
SUPERVISED_DEFAULTS: dict[str, Any] = {
    "lp_init": False, "layer_decay": None, "label_smoothing": 0.0, "test_fraction": 0.1, "val_fraction": 0.1,
    "epochs": 10, "lr": 1e-3, "warmup_epochs": 0.5,
}
