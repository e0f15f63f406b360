"""Trains strategies under ``--devices 2 --fabric-strategy ddp`` on the CPU (gloo) and saves each
rank's final weights: run by ``test_ddp.py`` as a script, which Fabric relaunches once per rank.

    python ddp_worker.py OUT_DIR STRATEGY [STRATEGY ...]
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import torch
from every_strategy import VARIANTS, blobs, strategy_kwargs  # this script's folder is on sys.path

import graft
from graft.engine.trainer import attached_callbacks


class SlowRank0:
    """Rank 0's extra per-epoch work (loggers, a progress bar, a slow disk), exaggerated."""

    def on_validation_end(self, epoch: int, row: dict, monitor: str) -> None:
        if int(os.environ.get("LOCAL_RANK", "0")) == 0:
            time.sleep(0.25)


def main(out: Path, names: list[str]) -> None:
    warnings.simplefilter("ignore")
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    base = out / "base"
    if not (base / "metrics.json").exists():  # the teacher and starting model, trained before the ranks launch
        graft.fit("builtin:mlp", blobs(), "scratch", out=base, overwrite=True, epochs=10, lr=1e-2, mlp_width=16,
                  progress=False)
    for name in names:
        strategy, extra = VARIANTS.get(name, (name, {}))
        kw = {"accelerator": "cpu", "devices": "2", "fabric_strategy": "ddp", "progress": False, "epochs": 4,
              "lr": 1e-2, "batch_size": 8, "out": out / name, "overwrite": True,
              **strategy_kwargs(strategy, base), **extra}
        if "teacher" in kw:
            kw["feature_weight"] = 1.0  # the projection is a training-only module DDP must see
        with attached_callbacks(*([SlowRank0()] if "checkpoint_every" in extra else [])):
            run = graft.fit(f"run:{base}", blobs(), strategy, **kw)
        state = {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()}
        torch.save({"state": state, "test_accuracy": run.metrics["test_accuracy"]}, out / f"{name}-rank{rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
