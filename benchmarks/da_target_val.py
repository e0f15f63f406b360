"""Session 36: DA with ``--target-val 10`` against its baseline and against the label-free runs.

Reads da_suite.py's run directories of the ``--target-val`` runs (``runs/s36_tv_*``, strategies named
``<short>-tv``) and the label-free results of today's defaults (:data:`da_defaults.TAKE`, ink-on-photo from
``s35_ink``). Writes ``results/da_target_val.md``:

- per shift: ``source-only --target-val 10`` and each strategy's paired difference against it (``*``: below it
  beyond 2 standard errors, the decision rule of benchmarks/README.md "Session 36");
- per strategy: the mean change from its label-free run;
- "best by val": for each shift and seed the run (of those measured) with the highest accuracy on the 100
  labeled validation examples, as a user of ``graft compare --target-val 10`` would keep, against auto's
  label-free pick (``self-training``).

    python benchmarks/da_target_val.py [--runs runs/s36_tv_a,runs/s36_tv_b,...]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
_defaults = importlib.import_module("da_defaults")
_results = importlib.import_module("_results")
SLUG_TO_SHIFT = {slug: name for name, slug in importlib.import_module("da_suite").SLUG.items()}
#: The ``--target-val`` runs' names → the strategy whose label-free run they are set against.
SHORT = {"so-tv": "source-only", "st-tv": "self-training", "cdan-tv": "cdan", "dm-tv": "dann+mcc", "mcc-tv": "mcc"}


def load_tv(dirs: list[Path]) -> pd.DataFrame:
    rows = []
    for root in dirs:
        for metrics_file in sorted(root.glob("*/*/metrics.json")):
            m = json.loads(metrics_file.read_text())
            name = metrics_file.parent.name.rsplit("-s", 1)[0]
            rows.append({"shift": SLUG_TO_SHIFT[metrics_file.parent.parent.name], "strategy": SHORT.get(name, name),
                         "seed": m["seed"], "test_accuracy": m["test_accuracy"], "val_accuracy": m["val_accuracy"],
                         "selected_epoch": m["selected_epoch"]})
    return pd.DataFrame(rows)


def load_free() -> pd.DataFrame:
    free = _defaults.load(_defaults.TAKE)
    ink = pd.read_csv(HERE / "results" / "s35_ink.csv")
    both = pd.concat([free, ink], ignore_index=True).drop_duplicates(["strategy", "shift", "seed"], keep="first")
    return both[["shift", "strategy", "seed", "test_accuracy"]]


def _diff(a: pd.Series, b: pd.Series, star: bool = True) -> str:
    gain, se = _results.paired(a, b)
    return f"{gain:+.3f} ± {se:.3f}" + (" *" if star and gain < -2 * se else "")


def shift_table(tv: pd.DataFrame, free: pd.DataFrame) -> pd.DataFrame:
    acc = tv.pivot_table(index=["shift", "seed"], columns="strategy", values="test_accuracy")
    lf = free.pivot_table(index=["shift", "seed"], columns="strategy", values="test_accuracy")
    others = [s for s in SHORT.values() if s in acc and s != "source-only"]
    rows = []
    for shift in dict.fromkeys(tv["shift"]):
        part = acc.loc[shift]
        row = {"shift": shift, "source-only, target-val": f"{part['source-only'].mean():.3f}"}
        if shift in lf.index.get_level_values(0) and "source-only" in lf.loc[shift]:
            row["source-only, label-free"] = f"{lf.loc[shift]['source-only'].mean():.3f}"
        for s in others:
            if s in part and part[s].notna().any():
                row[f"{s} − source-only"] = _diff(part["source-only"], part[s])
        best = tv[tv["shift"] == shift].sort_values("val_accuracy", ascending=False, kind="stable")
        picked = best.drop_duplicates("seed").set_index("seed")["test_accuracy"]
        row["best by val"] = f"{picked.mean():.3f}"
        if shift in lf.index.get_level_values(0) and "self-training" in lf.loc[shift]:
            row["best by val − auto (label-free)"] = _diff(lf.loc[shift]["self-training"], picked, star=False)
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def strategy_table(tv: pd.DataFrame, free: pd.DataFrame) -> pd.DataFrame:
    both = tv.merge(free, on=["shift", "seed", "strategy"], suffixes=("_tv", "_free"))
    rows = []
    for s, part in both.groupby("strategy", sort=False):
        per_shift = part.groupby("shift")[["test_accuracy_tv", "test_accuracy_free"]].mean()
        change = per_shift["test_accuracy_tv"] - per_shift["test_accuracy_free"]
        rows.append({"strategy": s, "shifts": len(per_shift),
                     "label-free mean": f"{per_shift['test_accuracy_free'].mean():.3f}",
                     "target-val mean": f"{per_shift['test_accuracy_tv'].mean():.3f}",
                     "change": f"{change.mean():+.3f}", "worst shift": f"{change.min():+.3f} ({change.idxmin()})",
                     "best shift": f"{change.max():+.3f} ({change.idxmax()})"})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="runs/s36_tv_a,runs/s36_tv_b,runs/s36_tv_c,runs/s36_tv2_a,runs/s36_tv2_b")
    ap.add_argument("--out", default="da_target_val", help="results/OUT.md")
    ap.add_argument("--k", type=int, default=10, help="the runs' --target-val, for the title")
    args = ap.parse_args()
    tv = load_tv([HERE / r for r in args.runs.split(",")])
    free = load_free()
    from graft.report import markdown_table

    text = (f"# DA with `--target-val {args.k}` (session 36)\n\n400 iterations, LeNet, seeds 0–2; `*`: below "
            f"`source-only --target-val {args.k}` beyond 2 paired standard errors. Built by "
            "`benchmarks/da_target_val.py`.\n\n"
            + markdown_table(shift_table(tv, free)) + "\n\n## Against each strategy's label-free run\n\n"
            + markdown_table(strategy_table(tv, free)) + "\n")
    (HERE / "results" / f"{args.out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
