"""LoRA (and IA3) on EfficientNet-Lite0 → digits K=10 against full finetune.

EfficientNet-Lite0 (ImageNet, 64 px), ``builtin:digits`` with 10 labels per class, seeds
0–2: accuracy, trainable parameters, seconds per epoch and peak memory of the training
steps. Writes results/b6_lora_vision.md and .csv. Not part of CI.

    python benchmarks/b6_lora_vision.py [--strategies finetune,lora,ia3] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

import graft
from _results import mean_std, publish

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--strategies", default="linear-probe,finetune,lora,ia3")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", default=str(HERE / "runs" / "b6"))
    ap.add_argument("--collect", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    if not args.collect:
        graft.compare("builtin:efficientnet-lite0", "builtin:digits", args.strategies.split(","),
                      seeds=[int(s) for s in args.seeds.split(",")], labels_per_class=args.k, out=out,
                      progress=False, image_size=64, resume=True)
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("runs/*/metrics.json"))]
    write(pd.DataFrame(rows))


def write(results: pd.DataFrame) -> None:
    results = results.drop(columns=[c for c in ("confusion", "classes") if c in results]).copy()
    results.to_csv(HERE / "results" / "b6_lora_vision.csv", index=False)
    rows = []
    for name, g in results.groupby("strategy", sort=False):
        acc = g["test_accuracy"].to_numpy(dtype=float)
        per_epoch = (g["train_seconds"] / g["epochs_run"].clip(lower=1)).mean()
        rows.append({
            "strategy": name, "seeds": len(g),
            "test accuracy": mean_std(acc),
            "trainable params": f"{int(g['trainable_params'].iloc[0]):,}",
            "trainable %": f"{100 * g['trainable_params'].iloc[0] / g['total_params'].iloc[0]:.2f}",
            "s / epoch": f"{per_epoch:.2f}" if g["epochs_run"].max() > 1 else "(no epochs)",
            "peak MB (train steps)": f"{g['peak_memory_mb'].mean():.0f}",
        })
    k = results["labels_per_class"].iloc[0] if len(results) else "?"
    publish("b6_lora_vision", "# LoRA on EfficientNet-Lite0 → digits\n\n"
            f"`builtin:efficientnet-lite0` (ImageNet) at 64 px on `builtin:digits`, K={k} labels per class, "
            "each strategy's defaults; test accuracy mean ± std over seeds. `s / epoch` includes the "
            "per-epoch validation pass.", rows)


if __name__ == "__main__":
    main()
