"""Tiny data, and the arguments that let each registered strategy train on it: shared by the
tests that run every strategy (bf16-mixed, DDP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from graft.data import from_arrays
from graft.data.base import DataSource
from graft.strategies import STRATEGIES

_RNG = np.random.default_rng(0)
_CENTRES = _RNG.normal(size=(3, 6)) * 3
Y = np.repeat(np.arange(3), 40)
X = (_CENTRES[Y] + _RNG.normal(size=(120, 6))).astype(np.float32)

#: Every strategy with a training loop (the linear probe fits its head in closed form).
TRAINED = [n for n in STRATEGIES if n != "linear-probe"]

#: Runs beside the strategies: name → (strategy, options).
VARIANTS: dict[str, tuple[str, dict]] = {
    # The backbone is frozen when DDP is set up and unfrozen at epoch 2: its gradients must still be reduced.
    "finetune-unfreeze": ("finetune", {"unfreeze_at": 2, "lp_init": False}),
    # Rank 0 is slower each epoch and checkpoints are due by the clock: the ranks must still agree to save.
    "scratch-checkpoints": ("scratch", {"checkpoint_every": 0.2, "epochs": 8}),
}


def blobs() -> DataSource:
    """Three Gaussian blobs in 6 dimensions, 40 rows each."""
    return from_arrays(X, Y, name="blobs")


def strategy_kwargs(name: str, base_run: Path) -> dict[str, Any]:
    """What ``name`` needs beyond the data: a shifted source, ``base_run`` as teacher, a few labels."""
    cls = STRATEGIES.get(name)
    kw: dict[str, Any] = {}
    if "source" in cls.needs:
        kw["source"] = from_arrays(X + 0.3, Y, name="shifted")
    if "teacher" in cls.needs:
        kw["teacher"] = f"run:{base_run}"
    if "target" in cls.needs:
        kw["shift_report"] = False
    elif "unlabeled" in cls.needs or "source" in cls.needs or name == "contrastive":
        kw["labels_per_class"] = 10
    if name == "prune":
        kw["prune_ratio"] = 0.3
    return kw
