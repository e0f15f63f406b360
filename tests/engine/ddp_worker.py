"""Trains strategies under ``--devices 2 --fabric-strategy ddp`` on the CPU (gloo) and saves each
rank's final weights: run by ``test_ddp.py`` as a script, which Fabric relaunches once per rank.

    python ddp_worker.py OUT_DIR STRATEGY [STRATEGY ...]
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

import graft
from graft.data import from_arrays
from graft.strategies import STRATEGIES

RNG = np.random.default_rng(0)
CENTRES = RNG.normal(size=(3, 6)) * 3
Y = np.repeat(np.arange(3), 40)
X = (CENTRES[Y] + RNG.normal(size=(120, 6))).astype(np.float32)


def main(out: Path, names: list[str]) -> None:
    warnings.simplefilter("ignore")
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    common = {"accelerator": "cpu", "devices": "2", "fabric_strategy": "ddp", "progress": False}
    base = out / "base"
    if not (base / "metrics.json").exists():  # the teacher and starting model, trained before the ranks launch
        graft.fit("builtin:mlp", from_arrays(X, Y, name="blobs"), "scratch", out=base, overwrite=True,
                  epochs=10, lr=1e-2, mlp_width=16, progress=False)
    for name in names:
        cls = STRATEGIES.get(name)
        kw: dict = {**common, "epochs": 4, "lr": 1e-2, "batch_size": 8, "out": out / name, "overwrite": True}
        if "source" in cls.needs:
            kw["source"] = from_arrays(X + 0.3, Y, name="shifted")
        if "teacher" in cls.needs:
            kw["teacher"] = f"run:{base}"
            kw["feature_weight"] = 1.0  # the projection is a training-only module DDP must see
        if "target" in cls.needs:
            kw["shift_report"] = False
        elif "unlabeled" in cls.needs or "source" in cls.needs or name == "contrastive":
            kw["labels_per_class"] = 10
        if name == "prune":
            kw["prune_ratio"] = 0.3
        run = graft.fit(f"run:{base}", from_arrays(X, Y, name="blobs"), name, **kw)
        state = {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()}
        torch.save({"state": state, "test_accuracy": run.metrics["test_accuracy"]},
                   out / f"{name}-rank{rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
