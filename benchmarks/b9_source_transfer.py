"""B9 — a labeled source plus a few target labels, and self-supervised pretraining (see BENCHMARKS.md).

Part 1: LeNet pretrained on MNIST-5k (all labels), target digits with K ∈ {1, 5, 10} labels per
class, seeds 0–2: finetune from the pretrained run, multitask and instance-weighting (both also
train on the MNIST-5k labels), side-tune and co-tuning (the pretrained model only), and ``mcc``
given the K labels (see ``mcc+labels``). Variants: ``instance-weighting+tradaboost``
(``--reweight tradaboost``) and ``side-tune+fresh-side`` (``--side-model builtin:lenet``: a
randomly initialised side network instead of a copy of the base).
Part 2: LeNet pretrained on MNIST-5k WITHOUT labels (SimCLR, and rotation) → digits K=10, probe and
finetune, against supervised pretraining and scratch.
Writes results/b9_source_transfer.md (and .csv; a later invocation replaces the rows it re-runs and
keeps the others). Not part of CI.

    python benchmarks/b9_source_transfer.py [--ks 1,5,10] [--seeds 0,1,2] [--part 1,2] [--strategies ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _results import mean_std, merge_rows, publish

import graft
from graft.data import DataSource, load_source, make_splits

HERE = Path(__file__).parent
SOURCE_STRATEGIES = ("finetune", "multitask", "instance-weighting", "side-tune", "co-tuning", "mcc+labels")
TAKES_SOURCE = {"multitask", "instance-weighting"}  # side-tune and co-tuning use the source model, not its data
#: name in the table → (registered strategy, its options)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "instance-weighting+tradaboost": ("instance-weighting", {"reweight": "tradaboost"}),
    "side-tune+fresh-side": ("side-tune", {"side_model": "builtin:lenet"}),
}
KEY = ["part", "K", "start", "strategy"]


def labeled_source(mnist: DataSource, digits: DataSource, k: int, seed: int) -> DataSource:
    """MNIST-5k plus the K labeled digits per class a ``finetune`` run with this seed draws (the same
    split call: the test split and the K examples are identical), for a domain-adaptation strategy,
    which reads the target (``--data``) without labels. MNIST's 10 % keeps the source's validation."""
    lab = make_splits(digits, seed=seed, labels_per_class=k).train
    rng = np.random.default_rng(0)
    held = np.sort(rng.choice(len(mnist), size=len(mnist) // 10, replace=False))
    train = np.r_[np.setdiff1d(np.arange(len(mnist)), held), len(mnist) + np.arange(len(lab))]
    return DataSource(name=f"mnist5k+digits-k{k}", kind="image", classes=list(mnist.classes),
                      x=np.concatenate([mnist.x, digits.x[lab]]), y=np.r_[mnist.y, digits.y[lab]],
                      splits={"train": train, "test": held}, meta={})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ks", default="1,5,10")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--part", default="1,2")
    ap.add_argument("--strategies", default=",".join(SOURCE_STRATEGIES), help="part 1's strategies and variants")
    ap.add_argument("--name", default="b9_source_transfer", help="results/NAME.md")
    ap.add_argument("--out", default=str(HERE / "runs" / "b9"))
    ap.add_argument("--rerun", action="store_true", help="train again the part-1 runs that already finished")
    args = ap.parse_args()
    torch.set_num_threads(1)  # beside other processes on a shared machine, spinning BLAS threads cost far more
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
             "Target `builtin:digits` (test split 50 %, split seed 0: B1's test split), K labels per class drawn "
             "with each seed; the same LeNet pretrained on `builtin:mnist5k` (supervised, 8 epochs) starts every "
             "part-1 run; `multitask` and `instance-weighting` also train on MNIST-5k's labels (90 % of it; an "
             "epoch is one pass over it, 10 epochs); `side-tune` (a frozen copy plus a trainable side copy; "
             "`+fresh-side`: a randomly initialised LeNet side, `--side-model builtin:lenet`) and `co-tuning` (the "
             "MNIST head learns translated soft labels) use the pretrained model, not the MNIST data. "
             "`+tradaboost`: `--reweight tradaboost`. `mcc+labels`: the label-free DA method `mcc` (B1's protocol, "
             "1560 iterations, label-free checkpoint pick) with the K labeled digits added to its labeled source "
             "(MNIST-5k), the rest of the digits training split as its unlabeled target; `mcc` at K=0: the same with "
             "no target label. Part 2 pretrains LeNet on "
             "MNIST-5k without its labels. Each strategy's defaults; mean ± std over seeds; `s/run` is the "
             "training time (2 CPU cores shared with other processes: only roughly comparable).")

    def add(part: str, k: int, start: str, name: str, runs: list) -> None:  # type: ignore[type-arg]
        accs = [r.metrics["test_accuracy"] for r in runs]
        row = {"part": part, "K": str(k), "start": start, "strategy": name, "test accuracy": mean_std(accs),
               "per seed": " / ".join(f"{a:.3f}" for a in accs),
               "s/run": f"{sum(r.metrics['train_seconds'] for r in runs) / len(runs):.1f}"}
        rows = sorted(merge_rows(args.name, [row], tuple(KEY)), key=lambda r: (str(r["part"]), int(r["K"])))
        publish(args.name, intro, rows)

    if "1" in parts:
        for k in (int(k) for k in args.ks.split(",")):
            for name in args.strategies.split(","):
                runs = []
                for s in seeds:
                    run_out = out / f"k{k}-{name}-s{s}"
                    if (run_out / "metrics.json").exists() and not args.rerun:  # an interrupted invocation's
                        run = graft.load_run(run_out)
                    elif name == "mcc":  # the reference: no target label at all (K is ignored; pass --ks 0)
                        run = graft.fit(f"run:{supervised.run_dir}", digits, strategy="mcc", source=mnist, seed=s,
                                        out=run_out, overwrite=True, progress=False, epochs=20, steps_per_epoch=78,
                                        shift_report=False)
                    elif name == "mcc+labels":
                        run = graft.fit(f"run:{supervised.run_dir}", digits, strategy="mcc",
                                        source=labeled_source(mnist, digits, k, s), seed=s, out=run_out,
                                        overwrite=True, progress=False, epochs=20, steps_per_epoch=78,
                                        shift_report=False)
                    else:
                        strategy, opts = VARIANTS.get(name, (name, {}))
                        extra = {"source": mnist} if strategy in TAKES_SOURCE else {}
                        run = graft.fit(f"run:{supervised.run_dir}", digits, strategy=strategy, labels_per_class=k,
                                        seed=s, out=run_out, overwrite=True, progress=False, shift_report=False,
                                        **extra, **opts)
                    print(f"K={k} {name} seed {s}: {run.metrics['test_accuracy']:.3f}", flush=True)
                    runs.append(run)
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
