"""Session 37: adapted runs whose source-only reference is ``source-only``'s own run, against the same strategy
with the old reference (the warm start carried on) and against ``source-only``.

Reads da_suite.py's result files (``results/<name>.csv``): the new runs (``s37_*``), the old ones (sessions
33-36) and ``source-only`` (label-free: ``s33_so``, ``s35_photo_a/b``, ``s35_ink``; with ``--target-val``:
``so-tv`` of ``s36_tv_*``). Writes ``results/da_reference.md``: per comparison and shift, the means, new − old and
new − source-only with paired standard errors (``*``: below beyond 2 SE), how many runs kept the reference, and
the decision rules of benchmarks/README.md "Session 37". Not part of CI.

    python benchmarks/da_reference.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from _results import paired

from graft.report import markdown_table

HERE = Path(__file__).parent
OLD_FREE = ["s33_stref", "s33_so", "s33_mcc", "s33_mcc_b", "s34_dann", "s34_dan", "s34_cdan", "s34_dm",
            "s35_photo_a", "s35_photo_b", "s35_ink"]
OLD_TV = ["s36_tv_a", "s36_tv_b", "s36_tv_c", "s36_tv2_a", "s36_tv2_b"]
#: (title, old result files, old name, new result files, new name, baseline files, baseline name)
COMPARISONS = [
    ("self-training, label-free", OLD_FREE, ("st-ref", "self-training"), ["s37_st_a", "s37_st_b"],
     "self-training", OLD_FREE, "source-only"),
    ("self-training --target-val 10", OLD_TV, ("st-tv",), ["s37_tv_a", "s37_tv_b", "s37_tv_c"], "st-tv",
     OLD_TV, "so-tv"),
    ("dann --mcc-weight 1 --target-val 10", OLD_TV, ("dm-tv",), ["s37_dmtv_a", "s37_dmtv_b", "s37_tv_c"], "dm-tv",
     OLD_TV, "so-tv"),
    ("dann --mcc-weight 1, label-free", OLD_FREE, ("dm-ref", "dann+mcc"), ["s37_dm_a", "s37_dm_b"], "dann+mcc",
     OLD_FREE, "source-only"),
    ("mcc, label-free", OLD_FREE, ("mcc-ref", "mcc"), ["s37_mcc_a", "s37_mcc_b"], "mcc", OLD_FREE, "source-only"),
    ("dann, label-free", OLD_FREE, ("dann-ref", "dann"), ["s37_dann_a", "s37_dann_b"], "dann", OLD_FREE,
     "source-only"),
    ("dan, label-free", OLD_FREE, ("dan-ref", "dan"), ["s37_dan_a", "s37_dan_b"], "dan", OLD_FREE, "source-only"),
    ("cdan, label-free", OLD_FREE, ("cdan-ref", "cdan"), ["s37_cdan_a", "s37_cdan_a2", "s37_cdan_b"], "cdan",
     OLD_FREE, "source-only"),
]


def read(files: list[str], names: tuple[str, ...] | str) -> pd.DataFrame:
    names = (names,) if isinstance(names, str) else names
    frames = [pd.read_csv(p) for f in files if (p := HERE / "results" / f"{f}.csv").exists()]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["shift", "strategy", "seed"])
    rows = rows[rows["strategy"].isin(names)]
    # A file may hold several of the names (s34_cdan: cdan-ref and the older cdan): the first name listed wins.
    rank = rows["strategy"].map({name: i for i, name in enumerate(names)})
    rows = rows.assign(rank=rank).sort_values("rank", kind="stable")
    return rows.drop_duplicates(["shift", "seed"], keep="first").set_index(["shift", "seed"])


def _cell(gain: float, se: float) -> str:
    return f"{gain:+.3f} ± {se:.3f}" + (" *" if gain < -2 * se else "")


def compare(old: pd.DataFrame, new: pd.DataFrame, base: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    rows, below_old, below_new = [], 0, 0
    for shift in dict.fromkeys(new.index.get_level_values(0)):
        n, b = new.loc[shift], base.loc[shift] if shift in base.index else None
        o = old.loc[shift] if shift in old.index else None
        row = {"shift": shift, "seeds": len(n), "new": f"{n['test_accuracy'].mean():.3f}",
               "kept reference": f"{int((n['selected_epoch'] == 0).sum())}/{len(n)}"}
        if o is not None:
            row["old"] = f"{o['test_accuracy'].mean():.3f}"
            row["new − old"] = _cell(*paired(o["test_accuracy"], n["test_accuracy"]))
        if b is not None:
            row["source-only"] = f"{b['test_accuracy'].mean():.3f}"
            gain, se = paired(b["test_accuracy"], n["test_accuracy"])
            row["new − source-only"] = _cell(gain, se)
            below_new += gain < -2 * se
            if o is not None:
                g, s = paired(b["test_accuracy"], o["test_accuracy"])
                row["old − source-only"] = _cell(g, s)
                below_old += g < -2 * s
            # The construction: epoch 0 of the new run is source-only's model.
            same = (n["start_accuracy"] - b["test_accuracy"]).abs().dropna()
            row["epoch 0 = source-only"] = f"{int((same < 1e-6).sum())}/{len(same)}"
        rows.append(row)
    table = pd.DataFrame(rows)
    both = [s for s in dict.fromkeys(new.index.get_level_values(0)) if s in old.index]
    means = {"shifts": len(rows), "new mean": new["test_accuracy"].groupby(level=0).mean().mean(),
             "old mean (same shifts)": old.loc[both, "test_accuracy"].groupby(level=0).mean().mean() if both else None,
             "new mean (same shifts)": new.loc[both, "test_accuracy"].groupby(level=0).mean().mean() if both else None,
             "shifts below source-only (new)": below_new, "shifts below source-only (old)": below_old}
    return table, means


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="da_reference", help="results/OUT.md")
    args = ap.parse_args()
    parts = ["# Session 37: the reference is source-only's own run\n",
             "Built by `benchmarks/da_reference.py`; protocol and decision rules in benchmarks/README.md "
             "\"Session 37\". 400 iterations, seeds 0-2. `*`: below beyond 2 paired standard errors. "
             "`epoch 0 = source-only`: runs whose epoch-0 test accuracy equals source-only's of the same seed.\n"]
    for title, old_files, old_name, new_files, new_name, base_files, base_name in COMPARISONS:
        new = read(new_files, new_name)
        if new.empty:
            continue
        table, means = compare(read(old_files, old_name), new, read(base_files, base_name))
        parts.append(f"## {title}\n")
        parts.append(markdown_table(table))
        parts.append("\n" + "; ".join(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}"
                                      for k, v in means.items()) + "\n")
    out = HERE / "results" / f"{args.out}.md"
    out.write_text("\n".join(parts))
    print(out.read_text())


if __name__ == "__main__":
    main()
