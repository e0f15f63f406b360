"""B10, DDP part: time per training epoch on 2 CPU processes (gloo) against 1, same data and options.

Each configuration runs as a fresh ``graft fit`` process (Fabric starts the second rank itself), one
torch thread per process, so 2 processes use the machine's 2 cores. ``--val-fraction 0`` keeps the
per-epoch time to the training steps (validation is not sharded: every rank scores the whole split).
The per-epoch time is the median of the history's epoch-to-epoch differences after the first epoch.
Test accuracies are printed beside the times: DDP with N processes trains with an N-times larger
global batch (``--batch-size`` is per process), so they differ. Writes results/b10_ddp.md.

    python benchmarks/b10_ddp.py                       # EfficientNet-Lite0 (64 px) and LeNet, finetune
    python benchmarks/b10_ddp.py --models lenet --epochs 4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _results import publish

HERE = Path(__file__).parent
MODELS = {
    "effnet": ["--model", "builtin:efficientnet-lite0", "--image-size", "64", "--data", "builtin:digits"],
    "lenet": ["--model", "builtin:lenet", "--data", "builtin:mnist5k"],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="effnet,lenet")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--strategy", default="finetune")
    ap.add_argument("--out", default=str(HERE / "runs" / "b10_ddp"))
    args = ap.parse_args()
    graft_cli = shutil.which("graft", path=str(Path(sys.executable).parent))
    if graft_cli is None:
        raise SystemExit("graft is not installed next to this Python")
    rows = []
    for short in args.models.split(","):
        found: dict[int, dict[str, Any]] = {}
        for devices in (1, 2):
            out = Path(args.out) / f"{short}-{devices}"
            cmd = [graft_cli, "--quiet", "fit", *MODELS[short], "--strategy", args.strategy, "--epochs",
                   str(args.epochs), "--val-fraction", "0", "--accelerator", "cpu", "--devices", str(devices),
                   "--out", str(out), "--overwrite"]
            if devices > 1:
                cmd += ["--fabric-strategy", "ddp"]
            env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
            found[devices] = measure(out)
            print(short, devices, found[devices], flush=True)
        one, two = found[1], found[2]
        rows.append({
            "model": short, "strategy": args.strategy, "epochs": args.epochs,
            "1 process: s/epoch": f"{one['epoch_seconds']:.1f}", "2 processes: s/epoch": f"{two['epoch_seconds']:.1f}",
            "ratio (2/1)": f"{two['epoch_seconds'] / one['epoch_seconds']:.2f}",
            "test acc 1 / 2": f"{one['test_accuracy']:.3f} / {two['test_accuracy']:.3f}",
        })
    publish("b10_ddp", "# B10 — DDP: time per training epoch, 2 CPU processes against 1\n\n"
            "Fresh `graft fit` processes, one torch thread each, on this 2-core machine; `--val-fraction 0` "
            "so an epoch is its training steps. Ratio below 1: DDP is faster. The global batch doubles "
            "with 2 processes (the batch size is per process), so the accuracies differ.", rows)


def measure(out: Path) -> dict[str, float]:
    """Median seconds between trained epochs (the first, with its start-up, is left out)."""
    frame = pd.read_csv(out / "history.csv")
    trained = frame[frame["epoch"] > 0]["seconds"].to_numpy()
    metrics = json.loads((out / "metrics.json").read_text())
    return {"epoch_seconds": float(np.median(np.diff(trained))), "test_accuracy": float(metrics["test_accuracy"])}


if __name__ == "__main__":
    main()
