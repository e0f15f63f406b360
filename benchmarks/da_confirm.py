"""Session 38: a second label-free validator's veto (``--confirm-by``), replayed from da_suite.py's run histories.

Every da_suite.py run scores every validator each epoch (``all_validators``) and records the target test accuracy
of each epoch (``oracle_test_accuracy``, never used to select). A veto only sends a run back to its epoch 0 (the
source-only reference, whose accuracy the history holds), so replaying it is exact: the pick ``im`` made
(``selected_epoch``) stands if the confirming validator scores it more than ``margin`` (relative to the reference's
size) above epoch 0, else the run ends at epoch 0. Runs made with the veto already on (``confirm_vetoed`` in
metrics.json) are replayed from the pick before the veto (``best_adapted_epoch``).

Writes ``results/<out>.md``: per strategy and group of shifts, the mean gain over ``source-only`` (epoch 0) without
and with the veto, the runs vetoed, and the shifts below ``source-only`` beyond 2 paired standard errors; per
margin. Not part of CI.

    python benchmarks/da_confirm.py --group 'seventeen=s37_st_a,s37_st_b,...' --group 'fresh=s38_fresh_a,...'
                                    [--by classami] [--margins 0,0.01] [--out da_confirm]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

import pandas as pd

from graft.report import markdown_table

HERE = Path(__file__).parent
#: A run: (shift, strategy, seed) → (the pick before any veto, history rows)
Runs = dict[tuple[str, str, str], tuple[int, list[dict[str, str]]]]


def load(names: list[str]) -> Runs:
    """Every run of the given da_suite.py output folders (``runs/<name>``); the first folder listed wins a
    (shift, strategy, seed)."""
    out: Runs = {}
    for name in names:
        for metrics in sorted((HERE / "runs" / name).glob("*/*/metrics.json")):
            run = metrics.parent
            history = run / "history.csv"
            m = json.loads(metrics.read_text())
            if not history.exists() or m.get("strategy") == "source-only":
                continue
            strategy, seed = run.name.rsplit("-s", 1)
            pick = m.get("best_adapted_epoch", 0) if m.get("confirm_vetoed") else m["selected_epoch"]
            out.setdefault((run.parent.name, strategy, seed), (int(pick or 0), list(csv.DictReader(history.open()))))
    return out


def confirmed(pick: int, rows: list[dict[str, str]], by: str, margin: float | None) -> int:
    """The epoch a run ends at: ``pick``, or 0 when ``by`` does not confirm it (``margin`` None: no veto)."""
    if margin is None or not pick:
        return pick
    start, picked = float(rows[0][by]), float(rows[pick][by])
    return pick if picked - start > margin * abs(start) else 0


def summarise(runs: Runs, by: str, margin: float | None) -> dict[str, dict[str, object]]:
    """Per strategy: mean gain over the reference, runs vetoed, shifts below it beyond 2 paired SE."""
    gains: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    vetoed: dict[str, int] = defaultdict(int)
    for (shift, strategy, _seed), (pick, rows) in runs.items():
        end = confirmed(pick, rows, by, margin)
        vetoed[strategy] += end != pick
        acc = [float(r["oracle_test_accuracy"]) for r in rows]
        gains[strategy][shift].append(acc[end] - acc[0])
    out = {}
    for strategy, per_shift in gains.items():
        means, below = [], []
        for shift, g in per_shift.items():
            mean = statistics.mean(g)
            se = statistics.stdev(g) / math.sqrt(len(g)) if len(g) > 1 else 0.0
            means.append(mean)
            if mean < 0 and mean < -2 * se:
                below.append(f"{shift} {mean:+.3f} ± {se:.3f}")
        out[strategy] = {"shifts": len(per_shift), "runs": sum(len(g) for g in per_shift.values()),
                         "gain": statistics.mean(means), "vetoed": vetoed[strategy], "below": below}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--group", action="append", required=True, help="NAME=RUNS_FOLDER,... (under runs/)")
    ap.add_argument("--by", default="classami")
    ap.add_argument("--margins", default="0,0.01")
    ap.add_argument("--out", default="da_confirm")
    args = ap.parse_args()
    margins = [float(m) for m in args.margins.split(",")]
    rows = []
    for group in args.group:
        name, folders = group.split("=", 1)
        runs = load(folders.split(","))
        base = summarise(runs, args.by, None)
        vetoes = {m: summarise(runs, args.by, m) for m in margins}
        for strategy in sorted(base, key=lambda s: -float(base[s]["gain"])):  # type: ignore[arg-type]
            b = base[strategy]
            row = {"shifts": f"{name} ({b['shifts']})", "strategy": strategy, "runs": b["runs"],
                   "gain, im's pick": f"{b['gain']:+.3f}",
                   "below beyond 2 SE, im's pick": "; ".join(b["below"]) or "none"}  # type: ignore[arg-type]
            for m, s in vetoes.items():
                v = s[strategy]
                row[f"gain, veto {m:g}"] = f"{v['gain']:+.3f}"
                row[f"vetoed, {m:g}"] = v["vetoed"]
                row[f"below, veto {m:g}"] = "; ".join(v["below"]) or "none"  # type: ignore[arg-type]
            rows.append(row)
    intro = (f"# A second validator's veto, replayed: `--confirm-by {args.by}`\n\nGain: mean over the shifts of the "
             "mean over seeds of (test accuracy at the run's end − at epoch 0, the source-only reference). A veto "
             "keeps epoch 0 unless the pick's score is more than the margin (relative) above epoch 0's. Built by "
             "`benchmarks/da_confirm.py` from the run histories.\n\n")
    path = HERE / "results" / f"{args.out}.md"
    path.write_text(intro + markdown_table(pd.DataFrame(rows)) + "\n")
    print(path.read_text())


if __name__ == "__main__":
    main()
