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
from graft.report import markdown_table, summarize

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="lenet,effnet")
    ap.add_argument("--ks", default="1,5,10,all")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--strategies", default="scratch,linear-probe,finetune")
    ap.add_argument("--out", default=str(HERE / "runs" / "b2"))
    args = ap.parse_args()
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
                            out=out / short, progress=False, **opts)
        res["model"] = short
        frames.append(res)
        write(pd.concat(frames, ignore_index=True))


def write(results: pd.DataFrame) -> None:
    results = results.copy()
    results["labels_per_class"] = results["labels_per_class"].fillna("all")
    results.to_csv(HERE / "results" / "b2.csv", index=False)
    summary = summarize(results, ["model", "labels_per_class", "strategy"],
                        ["test_accuracy", "test_macro_f1", "train_seconds"])
    text = ("# B2 — few-label transfer to digits\n\n"
            "digits, stratified 50/50 split (random_state=0), mean ± std over seeds "
            f"{sorted(results['seed'].unique().tolist())}; EfficientNet-Lite0 at 64 px; LeNet "
            "pretrained on MNIST-5k by `graft pretrain`. Default options of every strategy.\n\n"
            + markdown_table(summary) + "\n")
    (HERE / "results" / "b2.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
