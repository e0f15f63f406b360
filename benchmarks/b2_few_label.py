"""B2 — few-label transfer to digits (see BENCHMARKS.md).

Strategies × K ∈ {1, 5, 10, all} × seeds 0–2 for EfficientNet-Lite0 (ImageNet, 64 px) and
LeNet pretrained on MNIST-5k with ``graft pretrain``. Writes results/b2.md and
results/b2.csv. Not part of CI; takes about an hour on 2 CPU cores.

    python benchmarks/b2_few_label.py [--models lenet,effnet] [--ks 1,5,10,all] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import graft
from graft.data import load_source
from _results import mean_std, publish

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="lenet,effnet")
    ap.add_argument("--ks", default="1,5,10,all")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--strategies", default="scratch,linear-probe,finetune")
    ap.add_argument("--out", default=str(HERE / "runs" / "b2"))
    ap.add_argument("--collect", action="store_true", help="rebuild results from the run folders under --out")
    ap.add_argument("--report-only", action="store_true", help="rewrite b2.md from results/b2.csv")
    args = ap.parse_args()
    if args.report_only:
        write(pd.read_csv(HERE / "results" / "b2.csv"))
        return
    if args.collect:  # an interrupted benchmark: gather the finished runs' metrics.json
        import json

        rows = []
        for path in sorted(Path(args.out).glob("*/runs/*/metrics.json")):
            m = json.loads(path.read_text())
            m["model"] = path.parts[-4]
            rows.append(m)
        write(pd.DataFrame(rows))
        return
    ks = [None if k == "all" else int(k) for k in args.ks.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    strategies = args.strategies.split(",")
    out = Path(args.out)
    digits = load_source("builtin:digits")
    frames = []
    for short in args.models.split(","):
        if short == "lenet":
            src = graft.pretrain("builtin:lenet", "builtin:mnist5k", out=out / "pretrain-lenet",
                                 overwrite=True, epochs=8, progress=False)
            spec, opts = f"run:{src.run_dir}", {}
        else:
            spec, opts = "builtin:efficientnet-lite0", {"image_size": 64}
        res = graft.compare(spec, digits, strategies, seeds=seeds, labels_per_class=ks,
                            out=out / short, progress=False, resume=True, **opts)
        res["model"] = short
        frames.append(res)
        write(pd.concat(frames, ignore_index=True))


def write(results: pd.DataFrame) -> None:
    """results/b2.csv (one row per run) and results/b2.md (model × K rows, strategy columns)."""
    results = results.copy()
    results["K"] = results["labels_per_class"].map(lambda k: "all" if pd.isna(k) or str(k) == "all" else str(int(float(k))))
    results.to_csv(HERE / "results" / "b2.csv", index=False)
    order = {k: i for i, k in enumerate(["1", "2", "5", "10", "all"])}
    rows = []
    for (model, k), g in sorted(results.groupby(["model", "K"]), key=lambda t: (t[0][0], order.get(t[0][1], 99))):
        row = {"model": model, "K": k}
        known = ["scratch", "linear-probe", "finetune"]
        names = sorted(g["strategy"].unique(), key=lambda n: (known.index(n) if n in known else 99, n))
        for name in names:
            h = g[g["strategy"] == name]
            acc = h["test_accuracy"].to_numpy(dtype=float)
            row[name] = mean_std(acc)
            row[f"{name} s"] = f"{h['train_seconds'].mean():.1f}"
        rows.append(row)
    seeds = sorted(results["seed"].unique().tolist())
    publish("b2", "# B2 — few-label transfer to digits\n\n"
            "Target `builtin:digits`, stratified 50/50 split (random_state=0); test accuracy, mean ± std "
            f"over seeds {seeds}; `X s` = mean training seconds. EfficientNet-Lite0 (ImageNet) at 64 px; "
            "LeNet pretrained on MNIST-5k by `graft pretrain`. Default options of every strategy; "
            "validation: 10 % of the training split, carved before the K examples are drawn.", rows)


if __name__ == "__main__":
    main()
