"""B1 — unsupervised domain adaptation MNIST-5k → digits (see BENCHMARKS.md).

LeNet, 1560 iterations (20 epochs × 78 steps of 64 source + 64 target images), SGD
0.01 Nesterov, weight decay 1e-3, inv schedule, 3 seeds; label-free checkpoint
selection. Every run's history holds every validator's score and the oracle test
accuracy per epoch, so the table also shows what each validator would have picked.
Writes results/b1.md and results/b1.csv. Not part of CI.

    python benchmarks/b1_digits_da.py [--strategies source-only,dann,...] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import graft
from graft.data import load_source
from graft.report import format_mean_std, markdown_table

HERE = Path(__file__).parent
ALL = "source-only,dann,cdan,dan,coral,mcc,self-training"
VALIDATORS = ("snd", "entropy", "im", "dev")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strategies", default=ALL)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--select-by", default=None, help="validator for the headline (default: each strategy's)")
    ap.add_argument("--out", default=str(HERE / "runs" / "b1"))
    ap.add_argument("--extra", default="", help="extra options, k=v,k=v")
    ap.add_argument("--label", default="", help="row name for these runs (default: the strategy)")
    ap.add_argument("--collect", default="", help="comma-separated run roots: rebuild the table from them")
    args = ap.parse_args()
    # Another --out (a probe of other options) writes results/<its name>.{csv,md}; B1's tables stay.
    stem = "b1" if Path(args.out).resolve() == (HERE / "runs" / "b1").resolve() else Path(args.out).name
    csv = HERE / "results" / f"{stem}.csv"
    if args.collect:
        rows = [row_of(p.parent) for root in args.collect.split(",") for p in sorted(Path(root).glob("*/metrics.json"))]
        results = pd.DataFrame(rows)
        results.to_csv(csv, index=False)
        write(results, stem)
        return
    extra = dict(kv.split("=", 1) for kv in args.extra.split(",") if kv)
    source, target = load_source("builtin:mnist5k"), load_source("builtin:digits")
    rows = []
    for name in args.strategies.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            opts = {"epochs": 20, "steps_per_epoch": 78, "progress": False, **extra}
            if args.select_by:
                opts["select_by"] = args.select_by
            run = graft.fit("builtin:lenet", target, name, source=source, seed=seed,
                            out=Path(args.out) / f"{name}-s{seed}", overwrite=True, **opts)
            row = row_of(run.run_dir)
            if args.label:
                row["strategy"] = args.label
            rows.append(row)
            print(row, flush=True)
            pd.DataFrame(rows).to_csv(csv, index=False)
    write(pd.DataFrame(rows), stem)


def row_of(run_dir: Path) -> dict:
    """One table row from a finished run directory."""
    import json

    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    hist = pd.read_csv(Path(run_dir) / "history.csv")
    row = {"strategy": metrics["strategy"], "seed": metrics["seed"], "selected_by": metrics["selected_by"],
           "test_accuracy": metrics["test_accuracy"],
           "last_test_accuracy": float(hist["oracle_test_accuracy"].iloc[-1]),
           "oracle_test_accuracy": metrics.get("oracle_test_accuracy"),
           "train_seconds": metrics["train_seconds"]}
    for v in VALIDATORS:
        if v in hist:
            row[f"pick_{v}"] = float(hist.loc[hist[v].idxmax(), "oracle_test_accuracy"])
    return row


def write(results: pd.DataFrame, stem: str = "b1") -> None:
    cols = ["test_accuracy", "last_test_accuracy", "oracle_test_accuracy"] + \
        [c for c in results if c.startswith("pick_")] + ["train_seconds"]
    table = []
    for name, g in results.groupby("strategy", sort=False):
        row = {"strategy": name, "selected_by": g["selected_by"].iloc[0], "n": len(g)}
        for c in cols:
            vals = g[c].dropna().to_numpy(dtype=float)
            if len(vals):
                row[c] = format_mean_std(vals.mean(), vals.std(ddof=1) if len(vals) > 1 else 0.0,
                                         fmt=".1f" if c == "train_seconds" else ".3f")
        table.append(row)
    text = ("# B1 — MNIST-5k → digits, LeNet, 1560 iterations, label-free selection\n\n"
            "`test_accuracy`: the checkpoint picked by the strategy's label-free validator "
            "(`selected_by`), the headline. `last_test_accuracy`: the last iterate (the peers' protocol). "
            "`oracle_test_accuracy`: best epoch by test labels, an upper bound never used to select. "
            "`pick_X`: what validator X would have picked. mean ± std over seeds.\n\n"
            + markdown_table(pd.DataFrame(table)) + "\n")
    (HERE / "results" / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
