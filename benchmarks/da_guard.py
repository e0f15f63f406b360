"""What a guard on the label-free pick would change (issue 15), read off the DA suite's run directories.

The guard: an adapted pick whose ``METRIC`` (recorded every epoch by the label-free validation:
``start_agreement``, the share of the start's target predictions the epoch keeps, or
``start_agreement_confident``, the same on the half of the target the start was surest of) is below a
floor is replaced by the start (epoch 0, the source-only reference). A run made with the guard on and
vetoed (``start_guard_vetoed``) is replayed from the pick it refused (``best_adapted_epoch``). With
``--second V`` instead: an adapted pick that a second validator ``V`` scores worse than the start is replaced
by the start. Per floor: DA runs that end more than 0.01 below the ``source-only`` run of the same shift and
seed, the mean change of accuracy, and each
shift × strategy mean against source-only. Reads only; the runs come from da_suite.py.

    python benchmarks/da_guard.py runs/s31_suite [runs/s31_heldout] [--metric start_agreement_confident]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from graft.engine.trainer import monitor_mode

VALIDATORS = ("im", "entropy", "snd", "bnm", "classami", "dev")


def runs(dirs: list[Path]) -> pd.DataFrame:
    rows = []
    for d in dirs:
        for m in sorted(d.glob("*/*/metrics.json")):
            metrics = json.loads(m.read_text())
            hist = pd.read_csv(m.parent / "history.csv")
            strategy, seed = m.parent.name.rsplit("-s", 1)
            row = {"shift": m.parent.parent.name, "strategy": strategy, "seed": int(seed),
                   "accuracy": metrics["test_accuracy"], "pick": metrics.get("selected_epoch") or 0}
            if strategy != "source-only" and "oracle_test_accuracy" in hist:
                by_epoch = hist.set_index("epoch")
                acc = by_epoch["oracle_test_accuracy"]
                row["start_accuracy"] = float(acc.loc[0])
                if metrics.get("start_guard_vetoed"):  # run with the guard on: replay from the pick it refused
                    row["pick"] = int(metrics["best_adapted_epoch"])
                    row["accuracy"] = float(acc.loc[row["pick"]])
                for col in ("start_agreement", "start_agreement_confident", *VALIDATORS):
                    if col in hist:
                        row[col] = float(by_epoch[col].get(row["pick"], np.nan))
                for v in VALIDATORS:
                    if v in hist:  # > 0: the pick scores better than the start on v
                        sign = 1.0 if monitor_mode(v) == "max" else -1.0
                        row[f"{v}_gain"] = sign * (row[v] - float(by_epoch[v].loc[0]))
            rows.append(row)
    return pd.DataFrame(rows)


def guarded(frame: pd.DataFrame, metric: str, floor: float) -> pd.Series:
    """Each DA run's accuracy with the guard at ``floor``."""
    veto = (frame["pick"] > 0) & (frame[metric] < floor)
    return frame["accuracy"].where(~veto, frame["start_accuracy"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--metric", default="start_agreement_confident")
    ap.add_argument("--floors", default="0,0.5,0.6,0.7,0.8,0.85,0.9,0.92,0.94,0.96")
    ap.add_argument("--second", help="guard by a second validator's gain over the start instead")
    args = ap.parse_args()
    frame = runs(args.dirs)
    if args.second:
        if args.second not in VALIDATORS:
            ap.error(f"--second must be one of {', '.join(VALIDATORS)}")
        args.metric = f"{args.second}_gain"
        args.floors = "-1e9,0,1e-9"
    base = frame[frame.strategy == "source-only"].set_index(["shift", "seed"])["accuracy"]
    if base.index.has_duplicates:
        twice = sorted({f"{s} seed {k}" for s, k in base.index[base.index.duplicated()]})
        ap.error(f"{', '.join(twice)} appear in more than one run set: pass run sets of one protocol (one "
                 "budget) at a time")
    da = frame[frame.strategy != "source-only"].dropna(subset=[args.metric]).copy()
    da["source_only"] = [base.get((s, k), np.nan) for s, k in zip(da["shift"], da["seed"])]
    print(f"{len(da)} DA runs; guard on {args.metric}\n")
    print("| floor | runs vetoed | DA runs below source-only − 0.01 | mean accuracy | worst shift × strategy "
          "mean − source-only |")
    print("|---|---|---|---|---|")
    for floor in [float(f) for f in args.floors.split(",")]:
        acc = guarded(da, args.metric, floor)
        vetoed = int(((da["pick"] > 0) & (da[args.metric] < floor)).sum())
        below = int((acc < da["source_only"] - 0.01).sum())
        cells = (acc - da["source_only"]).groupby([da["shift"], da["strategy"]]).mean()
        print(f"| {floor:g} | {vetoed} | {below}/{len(da)} | {acc.mean():.4f} | {cells.min():+.3f} "
              f"({' / '.join(cells.idxmin())}) |")
    print("\nPer run (pick, its metric, accuracy, start, source-only):")
    cols = ["shift", "strategy", "seed", "pick", "start_agreement", "start_agreement_confident", "accuracy",
            "start_accuracy", "source_only"]
    print(da[[c for c in cols if c in da]].sort_values(["shift", "strategy", "seed"]).to_string(index=False))


if __name__ == "__main__":
    main()
