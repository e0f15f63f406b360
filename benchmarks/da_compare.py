"""Two settings of one DA strategy side by side over the suite's shifts, and the decision rule of
benchmarks/README.md applied to them: the new setting passes if its mean over shifts is not lower than the
old one's and no shift's mean is lower by more than max(0.02, 2 paired standard errors).

    python benchmarks/da_compare.py --before dann --after dann-ref --source-only results/s33_so.csv \
        results/s34_dann.csv [more csvs]      # da_suite.py's results; rows matched by shift and seed

Prints a markdown table (source-only, before, after, after − before, after − source-only, paired standard
errors) and the verdict. Not part of CI.
"""

from __future__ import annotations

import argparse

import pandas as pd
from _results import paired

from graft.report import markdown_table


def compare(results: pd.DataFrame, before: str, after: str) -> tuple[pd.DataFrame, bool]:
    acc = results.pivot_table(index=["shift", "seed"], columns="strategy", values="test_accuracy")
    shifts = list(dict.fromkeys(results["shift"]))
    rows, passes = [], True
    for shift in shifts:
        part = acc.loc[shift]
        if before not in part or after not in part or part[[before, after]].dropna().empty:
            continue
        gain, se = paired(part[before], part[after])
        lower = gain < -max(0.02, 2 * se)
        passes &= not lower
        row = {"shift": shift, "before": f"{part[before].mean():.3f}", "after": f"{part[after].mean():.3f}",
               "after − before": f"{gain:+.3f} ± {se:.3f}" + (" (lower)" if lower else "")}
        if "source-only" in part:
            so_gain, so_se = paired(part["source-only"], part[after])
            row = {"shift": shift, "source-only": f"{part['source-only'].mean():.3f}", **{k: v for k, v in row.items()
                   if k != "shift"}, "after − source-only": f"{so_gain:+.3f} ± {so_se:.3f}"
                   + (" *" if so_gain < -2 * so_se else "")}
        rows.append(row)
    table = pd.DataFrame(rows)
    means = acc[[before, after]].groupby(level="shift").mean().loc[[r["shift"] for r in rows]].mean()
    table.loc[len(table)] = {"shift": "mean", "before": f"{means[before]:.3f}", "after": f"{means[after]:.3f}"}
    return table.fillna(""), passes and means[after] >= means[before]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("csvs", nargs="+")
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--source-only", default="")
    args = ap.parse_args()
    frames = [pd.read_csv(p) for p in [*args.csvs, *filter(None, [args.source_only])]]
    results = pd.concat(frames, ignore_index=True)
    table, passes = compare(results, args.before, args.after)
    print(markdown_table(table))
    print(f"\n{args.after} against {args.before}, {len(table) - 1} shifts: {'passes' if passes else 'fails'} the rule")


if __name__ == "__main__":
    main()
