"""Session 38: what sharing the source-only reference saves a ``graft compare`` of DA strategies.

The same DA entries on one suite shift, seed 0, da_suite.py's budget (400 iterations), run twice: one by one
with ``graft.fit`` (each trains its own reference, as outside a comparison), then as one ``graft.compare``
(a ``source-only`` entry first: its run is the reference the others load). Reports the wall time of each and
checks that every entry ends with the same test accuracy both ways. Writes results/compare_reference.md. Not
part of CI.

    python benchmarks/compare_reference.py [--shift mnist→digits] [--strategies source-only,self-training,...]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path

import graft
from graft.report import markdown_table

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
shifts = importlib.import_module("da_suite").SHIFTS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shift", default="mnist→digits")
    ap.add_argument("--strategies", default="source-only,self-training,dann:mcc-weight=1,mcc,dann")
    args = ap.parse_args()
    import pandas as pd

    source, target = shifts[args.shift]()
    entries = args.strategies.split(",")
    opts = {"epochs": 10, "steps_per_epoch": 40, "progress": False, "shift_report": False, "seed": 0}
    work = Path(tempfile.mkdtemp(prefix="compare_reference_"))
    alone, t0 = {}, time.perf_counter()
    for entry in entries:
        name, *own = entry.split(":")
        extra = {k.replace("-", "_"): float(v) for k, v in (o.split("=") for o in own)}
        alone[entry] = graft.fit("builtin:lenet", target, name, source=source, out=work / entry.replace(":", "+"),
                                 **opts, **extra).metrics["test_accuracy"]
    one_by_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    seed = opts.pop("seed")
    compared = graft.compare("builtin:lenet", target, entries, source=source, seeds=(seed,), out=work / "cmp", **opts)
    together = time.perf_counter() - t0
    rows = []
    for row in compared.itertuples():
        rows.append({"entry": row.strategy, "test accuracy, alone": f"{alone[row.strategy]:.4f}",
                     "in the comparison": f"{row.test_accuracy:.4f}",
                     "reference": "loaded" if isinstance(getattr(row, "reference_reused_from", None), str) else
                     ("its own run" if row.strategy == "source-only" else "trained")})
    text = (f"# A comparison's DA entries share their source-only reference\n\n`{args.shift}`, LeNet, 400 iterations, "
            f"seed 0, one process. One by one with `graft.fit`: **{one_by_one:.0f} s**; as one `graft compare`: "
            f"**{together:.0f} s** ({together / one_by_one:.0%}).\n\n" + markdown_table(pd.DataFrame(rows)) + "\n")
    (HERE / "results" / "compare_reference.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
