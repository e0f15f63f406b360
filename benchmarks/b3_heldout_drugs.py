"""B3 held out — few-label text classification on a task no default was chosen on: MiniLM → drug
reviews (3-class sentiment, 71 % positive), the contrastive strategy against the probe and finetune.

``contrastive``'s defaults are SetFit's, checked on BBC news (B3); this case was kept out of that
choice. K ∈ {5, 10} labeled reviews per class, seeds 0–2, accuracy and macro-F1 (the majority
class alone scores 0.710 accuracy). Writes results/b3_heldout_drugs.md. Not part of CI.

    python benchmarks/b3_heldout_drugs.py [--ks 5,10] [--seeds 0,1,2] [--strategies ...]
        [--variant probe-st5=linear-probe:self_train_rounds=5]

A rerun replaces its own (K, strategy) rows and keeps the others.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _results import fit_or_reuse, mean_std, merge_rows, parse_variant, publish, read_rows

HERE = Path(__file__).parent
STRATEGIES = ("linear-probe", "finetune", "contrastive")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ks", default="5,10")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--out", default=str(HERE / "runs" / "b3_heldout_drugs"))
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME=STRATEGY:key=value,... a strategy with options, its rows named NAME")
    args = ap.parse_args()
    variants = dict(parse_variant(v) for v in args.variant)
    out = Path(args.out)
    seeds = [int(s) for s in args.seeds.split(",")]
    intro = ("# B3 held out — MiniLM → drug reviews, few labels\n\n"
             "`builtin:minilm` on `builtin:drug-reviews` (979 reviews, 3-class sentiment, 71 % positive; "
             "stratified 50/50 split, split seed 0), max length 128, K labeled reviews per class, each strategy's "
             "defaults. This data set was not used to choose any default. Mean ± std over seeds.")
    rows = read_rows("b3_heldout_drugs")
    for k in (int(k) for k in args.ks.split(",")):
        for name in [*filter(None, args.strategies.split(",")), *variants]:
            strategy, opts = variants.get(name, (name, {}))
            runs = [fit_or_reuse(out / f"k{k}-{name}-s{s}", "builtin:minilm", "builtin:drug-reviews",
                                 strategy=strategy, labels_per_class=k, seed=s, max_length=128, progress=False,
                                 **opts)
                    for s in seeds]
            m = [r.metrics for r in runs]
            rows.append({"K": k, "strategy": name, "seeds": len(runs),
                         "test accuracy": mean_std([x["test_accuracy"] for x in m]),
                         "macro-F1": mean_std([x["test_macro_f1"] for x in m]),
                         "per seed": " / ".join(f"{x['test_accuracy']:.3f}" for x in m),
                         "selected epochs": " / ".join(str(x.get("selected_epoch")) for x in m),
                         "train s": f"{sum(x['train_seconds'] for x in m) / len(m):.0f}"})
            rows = merge_rows("b3_heldout_drugs", rows[-1:], ("K", "strategy"))
            publish("b3_heldout_drugs", intro, rows)


if __name__ == "__main__":
    main()
