"""B8 compress — distill EfficientNet-Lite0 into LeNet, prune EfficientNet-Lite0 (see BENCHMARKS.md).

Distill: EfficientNet-Lite0 (ImageNet weights, 64 px) fine-tuned on digits with K=10 labels per
class is the teacher; LeNet (28 px grayscale, random init) learns from it with the K labels plus
the unlabeled rest of the training split, against LeNet `scratch` on the same K labels and the
teacher itself. Prune: EfficientNet-Lite0 fine-tuned on digits with all labels, pruned to 50 % and
25 % of its MACs. Every row: test accuracy, params, MACs, measured CPU latency at batch 1 and 32.
Writes results/b8_compress.md (and .csv; rows merged across invocations). Not part of CI.

    python benchmarks/b8_compress.py [--part distill,prune] [--seeds 0,1,2] [--kd-losses kl,dist,kl-std]
                                      [--augment light|none] [--prune-seeds 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _results import fit_or_reuse, mean_std, merge_rows, publish

HERE = Path(__file__).parent
EFFNET = {"image_size": 64}
KEY = ("part", "model", "strategy")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", default="distill,prune")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--kd-losses", default="kl", help="distill variants (the first is the default's row)")
    ap.add_argument("--augment", default="light", help="distill: light (the default) or none (teacher cached)")
    ap.add_argument("--no-scratch", action="store_true", help="distill: skip the LeNet scratch row")
    ap.add_argument("--targets", default="0.5,0.25", help="prune: fractions of the MACs kept")
    ap.add_argument("--prune-seeds", default="0", help="prune: seeds of the fine-tuned model and its pruning")
    ap.add_argument("--base-epochs", type=int, default=None, help="prune: epochs of the all-labels fine-tune")
    ap.add_argument("--prune-epochs", type=int, default=None, help="prune: final recovery epochs (default 10)")
    ap.add_argument("--name", default="b8_compress")
    ap.add_argument("--out", default=str(HERE / "runs" / "b8c"))
    args = ap.parse_args()
    out, seeds = Path(args.out), [int(s) for s in args.seeds.split(",")]
    intro = ("# B8 — compress: distill and prune (digits, 2 shared CPU cores)\n\n"
             "Target `builtin:digits` (test split 50 %, split seed 0). Distill: teacher EfficientNet-Lite0 "
             "(ImageNet weights, 64 px RGB, `finetune` defaults) with K=10 labels per class; student LeNet "
             "(28 px grayscale, random init) with the same K labels plus the unlabeled rest as transfer set "
             "(`distill` defaults: α 0.9, T 4, light augmentation seen identically by both); `scratch` is LeNet "
             "on the K labels alone. Prune: EfficientNet-Lite0 fine-tuned with all labels, then `prune "
             "--target-macs F` (4 Taylor steps with a recovery epoch each, 10 recovery epochs). Latency: "
             "median of timed forward passes after warm-up, float32, on this machine's CPU with the thread "
             "count shown, while other jobs ran (read the ratios, not the absolute values). mean ± std over seeds.")

    def add(part: str, model: str, strategy: str, runs: list[Any], acc_key: str = "test_accuracy",
            prefix: str = "") -> None:
        m0 = runs[0].metrics
        row = {"part": part, "model": model, "strategy": strategy,
               "test accuracy": mean_std([r.metrics[acc_key] for r in runs]),
               "per seed": " / ".join(f"{r.metrics[acc_key]:.3f}" for r in runs),
               "params": f"{m0[prefix + 'params']:,}", "MACs": f"{m0[prefix + 'macs']:,}",
               "ms b1": f"{m0[prefix + 'latency_ms_b1']:.2f}", "ms b32": f"{m0[prefix + 'latency_ms_b32']:.2f}",
               "threads": str(m0.get(prefix + "latency_threads", "")),
               "s/run": f"{sum(r.metrics['train_seconds'] for r in runs) / len(runs):.0f}" if not prefix else "—"}
        rows = merge_rows(args.name, [row], tuple(KEY))
        publish(args.name, intro, rows)

    if "distill" in args.part:
        teachers, students, scratch = [], {loss: [] for loss in args.kd_losses.split(",")}, []
        for s in seeds:
            t_dir = out / f"teacher-k10-s{s}"
            teacher = fit_or_reuse(t_dir, "builtin:efficientnet-lite0", "builtin:digits", "finetune",
                                   labels_per_class=10, seed=s, progress=False, **EFFNET)
            teachers.append(teacher)
            print(f"teacher seed {s}: {teacher.metrics['test_accuracy']:.3f}", flush=True)
            for loss in students:
                tag = f"distill-{loss}" + ("" if args.augment == "light" else f"-aug-{args.augment}")
                run = fit_or_reuse(out / f"{tag}-s{s}", "builtin:lenet", "builtin:digits", "distill",
                                   teacher=f"run:{t_dir}", labels_per_class=10, seed=s, progress=False, kd_loss=loss,
                                   augment=args.augment)
                students[loss].append(run)
                print(f"distill {loss} seed {s}: {run.metrics['test_accuracy']:.3f}", flush=True)
            if not args.no_scratch:
                scratch.append(fit_or_reuse(out / f"scratch-s{s}", "builtin:lenet", "builtin:digits", "scratch",
                                            labels_per_class=10, seed=s, progress=False))
        add("distill K=10", "EfficientNet-Lite0 (teacher)", "finetune", teachers)
        suffix = "" if args.augment == "light" else f" --augment {args.augment}"
        for loss, runs in students.items():
            add("distill K=10", "LeNet", f"distill --kd-loss {loss}{suffix}", runs)
        if scratch:
            add("distill K=10", "LeNet", "scratch", scratch)
    if "prune" in args.part:
        bases, pruned = [], {t: [] for t in args.targets.split(",")}
        for s in (int(x) for x in args.prune_seeds.split(",")):
            b_dir = out / f"effnet-all-s{s}"
            epochs = {"epochs": args.base_epochs} if args.base_epochs else {}
            base = fit_or_reuse(b_dir, "builtin:efficientnet-lite0", "builtin:digits", "finetune", seed=s,
                                progress=False, **EFFNET, **epochs)
            bases.append(base)
            for target in pruned:
                recovery = {"epochs": args.prune_epochs} if args.prune_epochs else {}
                run = fit_or_reuse(out / f"prune-{target}-s{s}", f"run:{b_dir}", "builtin:digits", "prune",
                                   target_macs=float(target), seed=s, progress=False, **recovery)
                pruned[target].append(run)
                print(f"prune {target} seed {s}: {run.metrics['test_accuracy']:.3f} "
                      f"(unpruned {run.metrics['unpruned_test_accuracy']:.3f})", flush=True)
        add("prune, all labels", "EfficientNet-Lite0", "finetune (unpruned)", bases)
        for target, runs in pruned.items():
            add("prune, all labels", "EfficientNet-Lite0", f"prune --target-macs {target}", runs)


if __name__ == "__main__":
    main()
