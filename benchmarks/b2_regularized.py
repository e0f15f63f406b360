"""B2 — few-label strategies against finetune on digits: regularized (l2sp, delta, bss), contrastive
and semi-supervised, from LeNet pretrained on MNIST-5k or from EfficientNet-Lite0 (ImageNet).

K ∈ {1, 5, 10}, seeds 0–2, each strategy's defaults; writes results/b2_regularized.md (LeNet) or
results/b2_regularized_efficientnet-lite0.md. Not part of CI.

    python benchmarks/b2_regularized.py [--model lenet|efficientnet-lite0] [--ks 1,5,10] [--seeds 0,1,2]
        [--strategies ...] [--variant probe-st5=linear-probe:self_train_rounds=5] [--name NAME]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import graft
from graft.data import load_source
from _results import fit_or_reuse, mean_std, parse_variant, publish

HERE = Path(__file__).parent
STRATEGIES = ("finetune", "l2sp", "delta", "bss", "contrastive", "co-tuning", "semi-supervised")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lenet", choices=("lenet", "efficientnet-lite0"))
    ap.add_argument("--ks", default="1,5,10")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default=str(HERE / "runs" / "b2_regularized"))
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--name", default=None, help="results/NAME.md (default b2_regularized[_MODEL])")
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME=STRATEGY:key=value,... a strategy with options, its rows named NAME")
    args = ap.parse_args()
    variants = dict(parse_variant(v) for v in args.variant)
    out = Path(args.out) / args.model
    ks = [int(k) for k in args.ks.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.model == "lenet":
        pretrained = out / "pretrain"
        if not (pretrained / "metrics.json").exists():  # a second invocation reuses the source model
            graft.pretrain("builtin:lenet", "builtin:mnist5k", out=pretrained, overwrite=True, epochs=8,
                           progress=False)
        model, options = f"run:{pretrained}", {}
    else:
        model, options = "builtin:efficientnet-lite0", {"image_size": 64}
    digits = load_source("builtin:digits")
    title = ("LeNet pretrained on MNIST-5k" if args.model == "lenet" else "EfficientNet-Lite0 (ImageNet, 64 px)")
    intro = (f"# B2 — few-label strategies, {title} → digits\n\n"
             f"Seeds {', '.join(map(str, seeds))}; each strategy's defaults (l2sp: alpha 0.01, beta 0.01, no weight "
             "decay toward zero; delta: alpha 0.01, beta 0.01, top 4 layer groups; bss: weight 0.001, k 1; "
             "contrastive: SetFit's pair loss over every pair of a batch, a shifted copy of each image as its "
             "own positive, the head refitted as a probe after each epoch); the same pretrained model for every "
             "run; digits test "
             "split as in BENCHMARKS.md; semi-supervised: FixMatch on the unlabeled rest of the training split, threshold "
             "0.95. Epoch 0 is the probe-fitted start (LP-FT).")
    name_out = args.name or ("b2_regularized" if args.model == "lenet" else f"b2_regularized_{args.model}")
    rows = []
    for k in ks:
        for name in [*filter(None, args.strategies.split(",")), *variants]:
            strategy, extra = variants.get(name, (name, {}))
            runs = [fit_or_reuse(out / f"k{k}-{name}-s{s}", model, digits, strategy=strategy, labels_per_class=k,
                                 seed=s, progress=False, **options, **extra)
                    for s in seeds]
            accs = [r.metrics["test_accuracy"] for r in runs]
            rows.append({"K": k, "strategy": name, "test accuracy": mean_std(accs),
                         "per seed": " / ".join(f"{a:.3f}" for a in accs),
                         **({"single view (--tta off)": " / ".join(f"{r.metrics['test_accuracy_single_view']:.3f}"
                                                              for r in runs)}
                            if all("test_accuracy_single_view" in r.metrics for r in runs) else {}),
                         "selected epochs": " / ".join(str(r.metrics["selected_epoch"]) for r in runs),
                         "s/run": f"{sum(r.metrics['train_seconds'] for r in runs) / len(runs):.1f}"})
            print(rows[-1], flush=True)
            publish(name_out, intro, rows)  # after every row: an interrupted benchmark keeps what it measured


if __name__ == "__main__":
    main()
