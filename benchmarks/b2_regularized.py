"""B2 — regularized (l2sp, bss) and semi-supervised fine-tuning against finetune, LeNet pretrained on MNIST-5k → digits.

K ∈ {5, 10}, seeds 0–2, each strategy's defaults; writes results/b2_regularized.md. Not part of CI.

    python benchmarks/b2_regularized.py [--ks 5,10] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import graft
from graft.data import load_source
from _results import mean_std, publish

HERE = Path(__file__).parent
STRATEGIES = ("finetune", "l2sp", "bss", "semi-supervised")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ks", default="5,10")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default=str(HERE / "runs" / "b2_regularized"))
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    args = ap.parse_args()
    out = Path(args.out)
    ks = [int(k) for k in args.ks.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    source = graft.pretrain("builtin:lenet", "builtin:mnist5k", out=out / "pretrain", overwrite=True,
                            epochs=8, progress=False)
    digits = load_source("builtin:digits")
    rows = []
    for k in ks:
        for name in args.strategies.split(","):
            runs = [graft.fit(f"run:{source.run_dir}", digits, strategy=name, labels_per_class=k, seed=s,
                              out=out / f"k{k}-{name}-s{s}", overwrite=True, progress=False) for s in seeds]
            accs = [r.metrics["test_accuracy"] for r in runs]
            rows.append({"K": k, "strategy": name, "test accuracy": mean_std(accs),
                         "per seed": " / ".join(f"{a:.3f}" for a in accs),
                         "selected epochs": " / ".join(str(r.metrics["selected_epoch"]) for r in runs),
                         "s/run": f"{sum(r.metrics['train_seconds'] for r in runs) / len(runs):.1f}"})
            print(rows[-1], flush=True)
    intro = ("# B2 — regularized fine-tuning, LeNet pretrained on MNIST-5k → digits\n\n"
             f"Seeds {', '.join(map(str, seeds))}; each strategy's defaults (l2sp: alpha 0.01, beta 0.01, no weight "
             "decay toward zero; bss: weight 0.001, k 1); the same pretrained LeNet for every run; digits test "
             "split as in BENCHMARKS.md; semi-supervised: FixMatch on the unlabeled rest of the training split, threshold "
             "0.95. Epoch 0 is the probe-fitted start (LP-FT).")
    publish("b2_regularized", intro, rows)


if __name__ == "__main__":
    main()
