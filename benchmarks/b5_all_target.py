"""Text domain adaptation scored on the whole target: the test split and the unlabeled training split together.

b5r's target test split has 76 reviews (three classes), too few to tell methods apart: one review is 0.013 of
accuracy. The runs of `b5_text_da.py` pick their checkpoint without target labels, so each picked model can
also be scored on the target's training split, whose labels it never saw (the transductive protocol of the DA
literature, e.g. Office-31 scored on the whole target): 193 reviews on b5r, 786 on B5. Reads the finished runs
under ROOT (named CELL-sSEED-STRATEGY), predicts the whole target with `Run.predict`, checks the test-split
figure against metrics.json, and writes results/b5_all_target.md (and .csv): macro-F1 and accuracy on the
whole target per (cell, strategy), and the paired difference to `source-only` with its standard error. Not CI.

    python benchmarks/b5_all_target.py [--root runs/s23/b5] [--cells b5r] [--strategies source-only,cdan]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from _results import mean_std, merge_rows, publish
from b5_text_da import CELLS
from sklearn.metrics import f1_score

HERE = Path(__file__).parent
NAME = re.compile(r"^(?P<cell>b5r?)-s(?P<seed>\d+)-(?P<strategy>.+)$")


def score(run_dir: Path, target: str) -> dict[str, float]:
    """Macro-F1 and accuracy of the run's picked model on every target review, and on the test split alone."""
    import graft

    run = graft.load_run(run_dir)
    frame = run.predict(target)
    y, p = frame["label"].to_numpy(), frame["prediction"].to_numpy()
    metrics = run.metrics
    test = slice(len(y) - int(metrics["n_test"]), None)  # the source's test split follows its train split
    return {"f1_all": f1_score(y, p, average="macro"), "acc_all": float((y == p).mean()),
            "f1_test": f1_score(y[test], p[test], average="macro"), "f1_test_run": float(metrics["test_macro_f1"]),
            "n_all": len(y)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, action="append", default=[])
    ap.add_argument("--cells", type=lambda t: t.split(","), default=["b5", "b5r"])
    ap.add_argument("--strategies", type=lambda t: t.split(","), default=None, help="only these run names")
    args = ap.parse_args()
    found: dict[tuple[str, str], dict[int, dict[str, float]]] = {}
    for root in args.root or [HERE / "runs" / "s23" / "b5"]:
        for run_dir in sorted(root.iterdir()):
            m = NAME.match(run_dir.name)
            if not m or m["cell"] not in args.cells or not (run_dir / "metrics.json").exists() or (
                    args.strategies and m["strategy"] not in args.strategies):
                continue
            s = score(run_dir, CELLS[m["cell"]][1])
            if abs(s["f1_test"] - s["f1_test_run"]) > 1e-6:
                raise SystemExit(f"{run_dir}: test macro-F1 {s['f1_test']:.4f} here, {s['f1_test_run']:.4f} in "
                                 "metrics.json: the test rows are not the last n_test")
            found.setdefault((m["cell"], m["strategy"]), {})[int(m["seed"])] = s
            print(f"{run_dir.name}: all-target macro-F1 {s['f1_all']:.3f} (test {s['f1_test']:.3f})", flush=True)
    rows = []
    for (cell, strategy), by_seed in sorted(found.items()):
        seeds = sorted(by_seed)
        f1 = [by_seed[s]["f1_all"] for s in seeds]
        base = found.get((cell, "source-only"), {})
        paired = [by_seed[s]["f1_all"] - base[s]["f1_all"] for s in seeds if s in base]
        diff = ""
        if paired and strategy != "source-only":
            se = np.std(paired, ddof=1) / np.sqrt(len(paired)) if len(paired) > 1 else float("nan")
            diff = f"{np.mean(paired):+.3f} ({se:.3f}, {len(paired)} seeds)"
        rows.append({"cell": cell, "strategy": strategy, "seeds": ",".join(map(str, seeds)),
                     "reviews": int(by_seed[seeds[0]]["n_all"]), "macro-F1, whole target": mean_std(f1),
                     "per seed": " / ".join(f"{v:.3f}" for v in f1),
                     "accuracy, whole target": mean_std([by_seed[s]["acc_all"] for s in seeds]),
                     "macro-F1, test split": mean_std([by_seed[s]["f1_test"] for s in seeds]),
                     "− source-only (paired se)": diff})
    rows = merge_rows("b5_all_target", rows, ("cell", "strategy"))
    intro = ("# Text DA scored on the whole target (test split + the unlabeled training split)\n\n"
             "The runs of `b5_text_da.py` (MiniLM, 6 epochs, label-free pick by `im`), each picked model scored on "
             "every target review: the 76 (b5r) or 303 (B5) of the test split and the training split the run saw "
             "without labels. Mean ± std over seeds; the last column is the paired difference to `source-only` "
             "on the same seeds (standard error of the mean difference).")
    publish("b5_all_target", intro, sorted(rows, key=lambda r: (r["cell"], r["strategy"])))


if __name__ == "__main__":
    main()
