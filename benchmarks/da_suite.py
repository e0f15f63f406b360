"""The DA suite (issue 15): every DA strategy on five vision shifts, label-free pick beside the oracle.

Protocol (fixed; see benchmarks/README.md):
- Shifts: :data:`da_shifts.SHIFTS` (MNIST-5k → digits (B1), digits → MNIST-5k, MNIST-5k → colour
  backgrounds, MNIST-5k → inverted + noisy, MNIST-5k → digits with skewed class proportions).
  The target is split 50/50 stratified with ``random_state=0`` by graft (as B1): its train half
  adapts WITHOUT labels, its test half gives the reported accuracies.
- Model: ``builtin:lenet`` (random init), graft's DA defaults (SGD 0.01 Nesterov, weight decay 1e-3,
  inv schedule, batch 64 + 64, source randomisation, ``--warm-start 2``, ``--select-by im`` with the
  start-margin rule). Budget: ``--epochs`` × ``--steps`` iterations (default 10 × 40 = 400, a
  quarter of B1's 1560, so the suite fits a shared 2-core machine), warm start included.
- Every run scores every validator each epoch (``all_validators``) and the target test accuracy
  (``oracle_test_accuracy``, never used to select), so the validator table is read off the histories.
- ``target-only`` is the reference with target labels: ``scratch`` on the target's train half with
  its labels (same LeNet, same budget, selection on a validation split carved from it).

    python benchmarks/da_suite.py [--shifts a,b] [--strategies source-only,dann,mcc,self-training]
                                  [--seeds 0] [--epochs 10] [--steps 40 (0: graft's default)]
    python benchmarks/da_suite.py --collect     # rebuild the tables from the run directories

Runs whose metrics.json exists are skipped, so an interrupted suite continues. Writes
results/da_suite.csv and results/da_suite.md. Not part of CI.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import graft
from graft.report import format_mean_std, markdown_table

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
_shifts = importlib.import_module("da_shifts")  # the sibling module, whatever the working directory
SHIFTS = {**_shifts.SHIFTS, **_shifts.HELD_OUT}  # the default run is the first five (--shifts)
parse_variant = importlib.import_module("_results").parse_variant

STRATEGIES = "source-only,dann,mcc,self-training"
#: Combinations measured as if they were strategies: name → (strategy, options).
VARIANTS = {"dann+mcc": ("dann", {"mcc_weight": 1.0})}
VALIDATORS = ("im", "entropy", "snd", "bnm", "classami", "dev")
RUNS = HERE / "runs" / "da_suite"
SLUG = {name: name.replace("→", "-to-") for name in SHIFTS}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shifts", default=",".join(_shifts.SHIFTS))
    ap.add_argument("--strategies", default=STRATEGIES)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--steps", type=int, default=40, help="steps per epoch; 0: graft's default (one pass over "
                    "the larger stream)")
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME=STRATEGY:key=value,... measured as a strategy named NAME (e.g. st-im1=self-training:"
                         "im_weight=1); list NAME in --strategies")
    ap.add_argument("--out", default=str(RUNS))
    ap.add_argument("--collect", action="store_true", help="only rebuild the tables from --out")
    args = ap.parse_args()
    out = Path(args.out)
    given = dict(parse_variant(v) for v in args.variant)
    unlisted = sorted(set(given) - set(args.strategies.split(",")))
    if unlisted and not args.collect:
        ap.error(f"--variant {', '.join(unlisted)} would not run: list the name(s) in --strategies too")
    VARIANTS.update(given)
    if not args.collect:
        for shift in args.shifts.split(","):
            source, target = SHIFTS[shift]()
            for seed in [int(s) for s in args.seeds.split(",")]:
                for name in args.strategies.split(","):
                    run_dir = out / SLUG[shift] / f"{name}-s{seed}"
                    if (run_dir / "metrics.json").exists():
                        continue
                    opts = {"epochs": args.epochs, "steps_per_epoch": args.steps or None, "progress": False,
                            "shift_report": False}
                    if name == "target-only":
                        graft.fit("builtin:lenet", target, "scratch", seed=seed, out=run_dir, overwrite=True,
                                  **opts)
                    else:
                        strategy, extra = VARIANTS.get(name, (name, {}))
                        graft.fit("builtin:lenet", target, strategy, source=source, seed=seed, out=run_dir,
                                  overwrite=True, all_validators=True, **opts, **extra)
                    print(shift, name, seed, json.dumps(row_of(run_dir, shift)), flush=True)
                    write(collect(out), out)
    write(collect(out), out)


def row_of(run_dir: Path, shift: str) -> dict:
    """One row per run: the label-free pick, the start, the last iterate, the oracle, each validator's pick."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    row = {"shift": shift, "strategy": run_dir.name.rsplit("-s", 1)[0], "seed": metrics["seed"],
           "test_accuracy": metrics["test_accuracy"], "selected_epoch": metrics.get("selected_epoch"),
           "train_seconds": metrics.get("train_seconds")}
    hist = pd.read_csv(run_dir / "history.csv")
    if "oracle_test_accuracy" not in hist:  # target-only: a labeled run
        return row
    acc = hist["oracle_test_accuracy"]
    row.update(start_accuracy=float(acc[hist["epoch"] == 0].iloc[0]), last_accuracy=float(acc.iloc[-1]),
               oracle_accuracy=float(acc.max()))
    for v in VALIDATORS:
        if v in hist and hist[v].notna().all():
            row[f"pick_{v}"] = float(acc[hist[v].idxmax()])
    return row


def collect(out: Path) -> pd.DataFrame:
    rows = [row_of(p.parent, shift) for shift, slug in SLUG.items()
            for p in sorted((out / slug).glob("*/metrics.json"))]
    return pd.DataFrame(rows)


def _ms(values: pd.Series) -> str:
    v = values.dropna().to_numpy(dtype=float)
    if not len(v):
        return ""
    return format_mean_std(v.mean(), v.std(ddof=1) if len(v) > 1 else 0.0, fmt=".3f")


def suite_table(results: pd.DataFrame) -> pd.DataFrame:
    """Strategy × shift: label-free pick (oracle best epoch), mean ± std over seeds."""
    shifts = [s for s in SHIFTS if s in set(results["shift"])]
    table = []
    for name, g in results.groupby("strategy", sort=False):
        row = {"strategy": name, "seeds": ",".join(str(s) for s in sorted(set(g["seed"])))}
        for shift in shifts:
            h = g[g["shift"] == shift]
            if len(h):
                cell = _ms(h["test_accuracy"])
                if "oracle_accuracy" in h and h["oracle_accuracy"].notna().any():
                    cell += f" ({_ms(h['oracle_accuracy'])})"
                row[shift] = cell
        table.append(row)
    return pd.DataFrame(table)


def paired_table(results: pd.DataFrame) -> pd.DataFrame:
    """Strategy × shift: the mean paired difference to ``source-only`` over the seeds both ran, with its
    standard error (std with ddof 1 over √n); ``*`` where the mean is below −2 standard errors."""
    ref = {(r.shift, r.seed): r.test_accuracy for r in results[results["strategy"] == "source-only"].itertuples()}
    shifts = [s for s in SHIFTS if s in set(results["shift"])]
    table = []
    for name, g in results.groupby("strategy", sort=False):
        if name in ("source-only", "target-only"):
            continue
        row = {"strategy": name}
        for shift in shifts:
            d = np.array([r.test_accuracy - ref[(shift, r.seed)] for r in g[g["shift"] == shift].itertuples()
                          if (shift, r.seed) in ref])
            if len(d):
                se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
                row[shift] = f"{d.mean():+.3f} ({se:.3f})" + (" *" if d.mean() < -2 * se else "")
        table.append(row)
    return pd.DataFrame(table)


def validator_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per validator, over every DA run: picks within 0.01 of the oracle, accuracy lost (mean, worst),
    and picks below the source-only strategy's label-free result on the same shift and seed."""
    da = results[results["strategy"] != "target-only"]
    if "oracle_accuracy" not in da:  # only labeled runs so far
        return pd.DataFrame()
    ref = {(r.shift, r.seed): r.test_accuracy for r in da[da["strategy"] == "source-only"].itertuples()}
    table = []
    for v in ["safe im (graft default)", *VALIDATORS]:
        col = "test_accuracy" if v.startswith("safe") else f"pick_{v}"
        if col not in da:
            continue
        d = da.dropna(subset=[col, "oracle_accuracy"])
        loss = d["oracle_accuracy"] - d[col]
        below = [r[col] < ref[(r["shift"], r["seed"])] - 0.01 for _, r in d.iterrows()
                 if (r["shift"], r["seed"]) in ref and r["strategy"] != "source-only"]
        table.append({"validator": v, "runs": len(d), "within 0.01 of oracle": f"{np.mean(loss <= 0.01):.2f}",
                      "mean loss": f"{loss.mean():.3f}", "worst loss": f"{loss.max():.3f}",
                      "DA runs below source-only − 0.01": f"{int(np.sum(below))}/{len(below)}"})
    return pd.DataFrame(table)


def write(results: pd.DataFrame, out: Path = RUNS) -> None:
    """results/da_suite.{csv,md}; another --out writes results/<its name>.{csv,md}, the suite's tables untouched."""
    if results.empty:
        return
    stem = "da_suite" if out.resolve() == RUNS.resolve() else out.name
    results.to_csv(HERE / "results" / f"{stem}.csv", index=False)
    kept = results.dropna(subset=["selected_epoch"])
    kept = kept[kept["strategy"] != "target-only"]
    text = (
        "# DA suite — LeNet, five vision shifts, label-free selection\n\n"
        "Cells: target test accuracy of the label-free pick (`im` with the start-margin rule, graft's default), "
        "and in brackets the best epoch by target test labels (oracle, never used to select); mean ± std over "
        "the seeds listed. `target-only` (when run): LeNet trained on the target's labeled train half (reference). "
        "Protocol in the script's docstring and benchmarks/README.md.\n\n"
        + markdown_table(suite_table(results)) + "\n\n"
        "## Against source-only\n\nMean paired difference to `source-only` (same shift and seed), standard error "
        "in brackets (std over seeds, ddof 1, over √seeds); `*` where it is below −2 standard errors.\n\n"
        + markdown_table(paired_table(results)) + "\n\n"
        "## Validators\n\nOver every DA run (shift × strategy × seed): how often the epoch a validator picks "
        "(epochs 0…E, epoch 0 the source-only start) is within 0.01 of the oracle's best epoch, the accuracy it "
        "loses against that epoch, and how often a DA strategy's pick ends more than 0.01 below the "
        "`source-only` strategy's label-free result on the same shift and seed.\n\n"
        + markdown_table(validator_table(results)) + "\n\n"
        f"The start (epoch 0) was kept in {int((kept['selected_epoch'] == 0).sum())} of {len(kept)} DA runs.\n"
    )
    (HERE / "results" / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
