"""The DA suite at today's defaults: every strategy on every shift, assembled from the run sets that
measured each strategy's current defaults (da_suite.py's results, 400 iterations, seeds 0-2).

    python benchmarks/da_defaults.py [--take STRATEGY=results/X.csv:NAME ...] [--out results/da_defaults.md]

``--take`` says where a strategy's rows are (NAME: the strategy or variant name in that csv), in place of
:data:`TAKE`'s (the run sets of sessions 33-37). Writes a summary per strategy (the shifts of :data:`LATER`
apart), a shift × strategy table (label-free pick, oracle in brackets, target-only reference), the paired
difference to ``source-only`` with its standard error, and the validator table over every run. Not part of CI.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import pandas as pd
from _results import paired

from graft.report import markdown_table

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
suite = importlib.import_module("da_suite")
confirm = importlib.import_module("da_confirm")

#: What --strategy auto picks for an image model without target labels.
AUTO = "self-training"
#: The colour-photograph shifts added in session 35, after today's defaults were chosen (reported apart).
LATER = ("digits→digits-photo", "mnist→mnist-photo")
#: Their run sets: every strategy at today's defaults under its own name.
LATER_FILES = ["s35_photo_a", "s35_photo_b", "s35_ink"]
#: strategy → [(csv file, the name its rows carry there)]: sessions 33-37's run sets of each strategy's current
#: defaults, and the later shifts' runs under the strategy's own name.
#: Session 37: strategies re-run with ``source-only``'s own run as the reference (the later shifts included;
#: a file listed earlier wins a shift and seed).
REFERENCE_37: dict[str, tuple[list[str], str]] = {
    "self-training": (["s37_st_a", "s37_st_b"], "self-training"),
    "dann+mcc": (["s37_dm_a", "s37_dm_b"], "dann+mcc"),
    "cdan": (["s37_cdan_a", "s37_cdan_a2", "s37_cdan_b"], "cdan"),
    "mcc": (["s37_mcc_a", "s37_mcc_b"], "mcc"),
    "dann": (["s37_dann_a", "s37_dann_b"], "dann"),
    "dan": (["s37_dan_a", "s37_dan_b"], "dan"),
}
#: Added after this table (session 35): reported with the later shifts.
INK = "mnist→ink-on-photo"
#: Session 38's three new constructions, run after every default but --confirm-by was chosen (reported apart).
FRESH = ("digits→ink-on-photo", "mnist→colour-noise", "mnist→digits-occluded")
FRESH_FILES = ["s38_fresh_a", "s38_fresh_b"]
TAKE: dict[str, list[tuple[str, str]]] = {
    strategy: [(f, name) for f in files] + [(f, strategy) for f in FRESH_FILES + LATER_FILES]
    for strategy, (files, name) in {
        "source-only": (["s33_so"], "source-only"),
        **REFERENCE_37,
        # Session 38: re-run with source-only's run as the reference and the --confirm-by veto on.
        "coral": (["s38_coral_a", "s38_coral_b"], "coral"),
        "target-only": (["s34_target"], "target-only"),
    }.items()
}
#: --confirm-by's default (session 38), replayed on runs made before it (their metrics.json has no confirm_by).
CONFIRM = ("classami", 0.01)


def replay_confirm(rows: pd.DataFrame, folder: str, name: str) -> pd.DataFrame:
    """Runs of ``runs/<folder>`` made before --confirm-by, as today's default would end them: a pick ClassAMI
    does not confirm ends at epoch 0, the source-only reference (da_confirm.py; exact, as the history holds
    epoch 0's accuracy). Adds ``vetoed``."""
    import json

    rows = rows.assign(vetoed=False)
    for i, row in rows.iterrows():
        run = HERE / "runs" / folder / suite.SLUG[row["shift"]] / f"{name}-s{row['seed']}"
        if name in ("source-only", "target-only") or not (run / "history.csv").exists():
            continue
        metrics = json.loads((run / "metrics.json").read_text())
        if "confirm_by" in metrics or "classami" not in (history := pd.read_csv(run / "history.csv")):
            continue
        pick = int(metrics["selected_epoch"])
        if confirm.confirmed(pick, history.astype(str).to_dict("records"), *CONFIRM) != pick:
            rows.loc[i, ["test_accuracy", "selected_epoch", "vetoed"]] = [row["start_accuracy"], 0, True]
    return rows


def load(take: dict[str, list[tuple[str, str]]]) -> pd.DataFrame:
    frames = []
    for strategy, sources in take.items():
        for f, name in sources:
            path = HERE / "results" / f"{f}.csv"
            if path.exists():
                rows = pd.read_csv(path)
                rows = replay_confirm(rows[rows["strategy"] == name], f, name)
                frames.append(rows.assign(strategy=strategy))
    return pd.concat(frames, ignore_index=True).drop_duplicates(["strategy", "shift", "seed"], keep="first")


def by_shift(results: pd.DataFrame) -> pd.DataFrame:
    """Shift × strategy: mean label-free pick over seeds, the oracle's mean in brackets; a mean row."""
    shifts = [s for s in suite.SHIFTS if s in set(results["shift"])]
    names = list(dict.fromkeys(results["strategy"]))
    rows = []
    for shift in [*shifts, "mean"]:
        part = results if shift == "mean" else results[results["shift"] == shift]
        row = {"shift": shift}
        for name in names:
            g = part[part["strategy"] == name]
            if shift == "mean":  # over shifts, each shift's seed mean
                g = g.groupby("shift")[["test_accuracy", "oracle_accuracy"]].mean()
            if not len(g):
                continue
            cell = f"{g['test_accuracy'].mean():.3f}"
            if "oracle_accuracy" in g and g["oracle_accuracy"].notna().any():
                cell += f" ({g['oracle_accuracy'].mean():.3f})"
            row[name] = cell
        means = {n: float(row[n].split()[0]) for n in names if n in row and n not in ("target-only", AUTO)}
        if AUTO in row and means:
            best = max(means, key=lambda n: means[n])
            gap = float(row[AUTO].split()[0]) - means[best]
            row[f"{AUTO} (auto) − best other"] = f"{gap:+.3f} ({best})"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def against_source_only(results: pd.DataFrame) -> pd.DataFrame:
    """Shift × strategy: paired difference to source-only ± standard error, `*` below −2 standard errors."""
    acc = results.pivot_table(index=["shift", "seed"], columns="strategy", values="test_accuracy")
    names = [n for n in dict.fromkeys(results["strategy"]) if n not in ("source-only", "target-only")]
    rows = []
    for shift in [s for s in suite.SHIFTS if s in set(results["shift"])]:
        row = {"shift": shift}
        for name in names:
            if name not in acc:
                continue
            gain, se = paired(acc.loc[shift]["source-only"], acc.loc[shift][name])
            if se == se:  # two seeds or more
                row[name] = f"{gain:+.3f} ± {se:.3f}" + (" *" if gain < -2 * se else "")
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Per strategy over the shifts it ran: mean, shifts where it is the best (target-only aside), and its worst
    paired difference to source-only with the shifts below −2 standard errors."""
    acc = results.pivot_table(index=["shift", "seed"], columns="strategy", values="test_accuracy")
    means = acc.groupby(level="shift").mean()
    others = [n for n in means if n != "target-only"]
    best = means[others].idxmax(axis=1)
    rows = []
    for name in dict.fromkeys(results["strategy"]):
        row = {"strategy": name, "shifts": int(means[name].notna().sum()), "mean": f"{means[name].mean():.3f}"}
        if name in others:
            row["best on"] = str(int((best == name).sum()))
        if name not in ("source-only", "target-only"):
            diffs = []
            for shift in means.index:
                gain, se = paired(acc.loc[shift]["source-only"], acc.loc[shift][name])
                if se == se:
                    diffs.append((gain, se, shift))
            worst = min(diffs)
            row["worst against source-only"] = f"{worst[0]:+.3f} ± {worst[1]:.3f} ({worst[2]})"
            row["below −2 SE"] = ", ".join(f"{sh} {m:+.3f}" for m, se, sh in diffs if m < -2 * se) or "none"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--take", action="append", default=[], help="STRATEGY=FILE[+FILE]:NAME (FILE: results/ stem)")
    ap.add_argument("--out", default=str(HERE / "results" / "da_defaults.md"))
    args = ap.parse_args()
    take = dict(TAKE)
    for text in args.take:
        strategy, _, rest = text.partition("=")
        files, _, name = rest.partition(":")
        take[strategy] = [(f, name or strategy) for f in files.split("+")]
    results = load(take)
    later_shifts = (*LATER, INK)
    chosen_on = results[~results["shift"].isin(later_shifts + FRESH)]
    later = results[results["shift"].isin(later_shifts)]
    fresh = results[results["shift"].isin(FRESH)]
    sources = "; ".join(f"{k} " + ", ".join(f"`{f}:{n}`" for f, n in v) for k, v in take.items())
    text = (
        "# The DA suite at today's defaults\n\nLeNet, 400 iterations, seeds 0–2 (da_suite.py's protocol). Cells: "
        "the label-free pick's target test accuracy, mean over seeds, and the best epoch by target test labels "
        "in brackets (never used to select). `target-only`: LeNet trained with the target's labels. Runs made "
        "before session 38 are shown as `--confirm-by classami` (today's default) would end them, replayed from "
        f"their histories ({int(results['vetoed'].sum())} of {int(results['selected_epoch'].notna().sum())} runs "
        "sent back to the reference). Sources: "
        + sources + ".\n\n## The fourteen shifts today's defaults were chosen on\n\n"
        + markdown_table(summary(chosen_on))
        + (f"\n\n## Held out: {', '.join(later_shifts)} (added in session 35, after the defaults were chosen)\n\n"
           + markdown_table(summary(later)) if len(later) else "")
        + (f"\n\n## Held out: {', '.join(FRESH)} (session 38, built after every default but --confirm-by)\n\n"
           + markdown_table(summary(fresh)) if len(fresh) else "")
        + "\n\n## Per shift\n\n" + markdown_table(by_shift(results))
        + "\n\n## Against source-only\n\nPaired over seeds, ± the standard "
        "error (std, ddof 1, over √3); `*` below −2 standard errors.\n\n"
        + markdown_table(against_source_only(results)) + "\n\n## Validators\n\n"
        + markdown_table(suite.validator_table(results)) + "\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
