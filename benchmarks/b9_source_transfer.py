"""B9 — a labeled source plus a few target labels, and self-supervised pretraining (see BENCHMARKS.md).

Part 1: LeNet pretrained on MNIST-5k (all labels), target digits with K ∈ {1, 5, 10} labels per
class: finetune from the pretrained run, multitask and instance-weighting (both also train on the
MNIST-5k labels), seeds 0–2. Part 2: LeNet pretrained on MNIST-5k WITHOUT labels (SimCLR, and
rotation) → digits K=10, probe and finetune, against supervised pretraining and scratch.
Writes results/b9_source_transfer.md. Not part of CI.

    python benchmarks/b9_source_transfer.py [--ks 1,5,10] [--seeds 0,1,2] [--part 1,2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import graft
from graft.data import load_source
from _results import mean_std, publish

HERE = Path(__file__).parent
SOURCE_STRATEGIES = ("finetune", "multitask", "instance-weighting", "side-tune", "co-tuning")
TAKES_SOURCE = {"multitask", "instance-weighting"}  # side-tune and co-tuning use the source model, not its data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ks", default="1,5,10")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--part", default="1,2")
    ap.add_argument("--strategies", default=",".join(SOURCE_STRATEGIES), help="part 1's strategies")
    ap.add_argument("--name", default="b9_source_transfer", help="results/NAME.md")
    ap.add_argument("--out", default=str(HERE / "runs" / "b9"))
    args = ap.parse_args()
    out = Path(args.out)
    seeds = [int(s) for s in args.seeds.split(",")]
    parts = args.part.split(",")
    mnist, digits = load_source("builtin:mnist5k"), load_source("builtin:digits")
    pretrained = out / "pretrain-supervised"
    if (pretrained / "metrics.json").exists():  # a second invocation reuses the source model
        supervised = graft.load_run(pretrained)
    else:
        supervised = graft.pretrain("builtin:lenet", mnist, out=pretrained, overwrite=True, epochs=8, progress=False)
    intro = ("# B9 — labeled source plus few target labels; self-supervised pretraining (LeNet)\n\n"
             "Target `builtin:digits` (test split 50 %, split seed 0), K labels per class drawn with each seed; "
             "the same LeNet pretrained on `builtin:mnist5k` (supervised, 8 epochs) starts every part-1 run; "
             "`multitask` and `instance-weighting` also train on MNIST-5k's labels (90 % of it; an epoch is one "
             "pass over it, 10 epochs); `side-tune` (a frozen copy plus a trainable side copy) and `co-tuning` "
             "(the MNIST head learns translated soft labels) use the pretrained model, not the MNIST data. Part 2 pretrains LeNet on MNIST-5k without its labels. Each strategy's "
             "defaults; mean ± std over seeds; `s/run` is the training time (2 shared CPU cores).")
    rows = []

    def add(part: str, k: int, start: str, name: str, runs: list) -> None:  # type: ignore[type-arg]
        accs = [r.metrics["test_accuracy"] for r in runs]
        rows.append({"part": part, "K": k, "start": start, "strategy": name, "test accuracy": mean_std(accs),
                     "per seed": " / ".join(f"{a:.3f}" for a in accs),
                     "s/run": f"{sum(r.metrics['train_seconds'] for r in runs) / len(runs):.1f}"})
        publish(args.name, intro, rows)

    if "1" in parts:
        for k in (int(k) for k in args.ks.split(",")):
            for name in args.strategies.split(","):
                extra = {"source": mnist} if name in TAKES_SOURCE else {}
                runs = [graft.fit(f"run:{supervised.run_dir}", digits, strategy=name, labels_per_class=k, seed=s,
                                  out=out / f"k{k}-{name}-s{s}", overwrite=True, progress=False, **extra)
                        for s in seeds]
                add("1", k, "MNIST supervised", name, runs)
    if "2" in parts:
        starts = {"MNIST supervised": f"run:{supervised.run_dir}", "scratch": "builtin:lenet"}
        for method in ("simclr", "rotation"):
            ssl = graft.pretrain("builtin:lenet", mnist, method=method, out=out / f"pretrain-{method}",
                                 overwrite=True, progress=False)
            starts[f"MNIST {method} (no labels)"] = f"run:{ssl.run_dir}"
        for start, model in starts.items():
            names = ("scratch",) if start == "scratch" else ("linear-probe", "finetune")
            for name in names:
                runs = [graft.fit(model, digits, strategy=name, labels_per_class=10, seed=s,
                                  out=out / f"p2-{start.split()[1] if ' ' in start else start}-{name}-s{s}",
                                  overwrite=True, progress=False) for s in seeds]
                add("2", 10, start, name, runs)


if __name__ == "__main__":
    main()
