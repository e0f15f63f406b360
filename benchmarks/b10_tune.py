"""B10 — graft tune (see BENCHMARKS.md): the tuned configuration against the defaults.

Protocol (the full figure): 20 trials per seed, seeds 0–2,
- B2 part: EfficientNet-Lite0 (ImageNet, 64 px) → digits K=10, ``finetune``, validation objective;
- B1 part: LeNet MNIST-5k → digits, ``mcc``, the label-free objective (``--select-by``, im), B1's budget.
For each search: test accuracy of the tuned configuration (the best trial's run, reported once)
against the defaults (the study's first trial runs them, same seed and split), wall time, and for
the label-free objective whether its pick agrees with the oracle's (the trial with the best test
accuracy; test figures are read only here, after the search, never by it).

Every study is stored in ``OUT/studies.db``: an interrupted benchmark continues where it stopped.
Writes results/b10_tune.md and results/b10_tune.csv. Not part of CI.

    python benchmarks/b10_tune.py                                   # the protocol
    python benchmarks/b10_tune.py --parts b2 --model lenet --trials 8 --seeds 0   # reduced
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

import graft
from _results import publish

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="b2,b1", help="b2 (finetune, validation) and/or b1 (mcc, label-free)")
    ap.add_argument("--model", default="effnet", help="B2 part: effnet (EfficientNet-Lite0) or lenet (MNIST-5k)")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--b1-epochs", type=int, default=20, help="B1 part: epochs of 78 steps (20 is B1's budget)")
    ap.add_argument("--out", default=str(HERE / "runs" / "b10"))
    ap.add_argument("--report-only", action="store_true", help="rewrite b10_tune.md from results/b10_tune.csv")
    args = ap.parse_args()
    csv = HERE / "results" / "b10_tune.csv"
    if args.report_only:
        write(pd.read_csv(csv))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(out / 'studies.db').resolve()}"
    rows = pd.read_csv(csv).to_dict("records") if csv.exists() else []
    for part in args.parts.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            if part == "b2":
                model, opts = b2_model(args.model, out)
                call = {"strategy": "finetune", "labels_per_class": 10, **opts}
                name = f"b2-{args.model}-finetune-s{seed}"
            else:
                model = "builtin:lenet"
                call = {"strategy": "mcc", "source": "builtin:mnist5k", "epochs": args.b1_epochs, "steps_per_epoch": 78}
                name = f"b1-lenet-mcc-e{args.b1_epochs}-s{seed}"
            t0 = time.perf_counter()
            result = graft.tune(model, "builtin:digits", trials=args.trials, seed=seed, storage=storage, study=name,
                                out=out / name, progress=False, **call)
            row = summarize(result, part, name, seed, time.perf_counter() - t0)
            rows = [r for r in rows if r["study"] != name] + [row]
            print(row, flush=True)
            pd.DataFrame(rows).to_csv(csv, index=False)
    write(pd.DataFrame(rows))


def b2_model(short: str, out: Path) -> tuple[str, dict[str, Any]]:
    if short == "effnet":
        return "builtin:efficientnet-lite0", {"image_size": 64}
    pretrained = out / "pretrain-lenet"
    if not (pretrained / "metrics.json").exists():
        graft.pretrain("builtin:lenet", "builtin:mnist5k", out=pretrained, overwrite=True, epochs=8, progress=False)
    return f"run:{pretrained}", {}


def summarize(result: Any, part: str, name: str, seed: int, seconds: float) -> dict[str, Any]:
    """One row: defaults against tuned, and the oracle's pick among the complete trials."""
    complete = [t for t in result.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    test = {t.number: _test_accuracy(t) for t in complete}
    defaults = next((t for t in complete if t.user_attrs.get("defaults")), None)
    best = result.study.best_trial
    oracle = max(complete, key=lambda t: test[t.number])
    corr = pd.Series([t.value for t in complete]).corr(pd.Series([test[t.number] for t in complete]),
                                                       method="spearman") if len(complete) > 2 else float("nan")
    states = [t.state.name.lower() for t in result.study.trials]
    return {
        "part": part, "study": name, "seed": seed, "objective": result.objective,
        "trials_complete": states.count("complete"), "trials_pruned": states.count("pruned"),
        "trials_failed": states.count("fail"),
        "defaults_objective": defaults.value if defaults else None,
        "defaults_test_accuracy": test.get(defaults.number) if defaults else None,
        "tuned_objective": best.value, "tuned_test_accuracy": result.test.get("test_accuracy") if result.test else None,
        "best_trial": best.number, "oracle_trial": oracle.number, "oracle_pick_test_accuracy": test[oracle.number],
        "pick_agrees_with_oracle": best.number == oracle.number, "spearman_objective_test": corr,
        "wall_seconds": seconds, "best_params": json.dumps(best.params),
    }


def _test_accuracy(trial: Any) -> float:
    metrics = json.loads((Path(trial.user_attrs["run_dir"]) / "metrics.json").read_text())
    return float(metrics["test_accuracy"])


def write(results: pd.DataFrame) -> None:
    rows = []
    for _, r in results.iterrows():
        rows.append({
            "study": r["study"], "objective": r["objective"],
            "trials (complete/pruned/failed)": f"{r['trials_complete']}/{r['trials_pruned']}/{r['trials_failed']}",
            "defaults: objective → test": f"{r['defaults_objective']:.3f} → {r['defaults_test_accuracy']:.3f}",
            "tuned: objective → test": f"{r['tuned_objective']:.3f} → {r['tuned_test_accuracy']:.3f}",
            "oracle's pick test": f"{r['oracle_pick_test_accuracy']:.3f}",
            "pick = oracle's": "yes" if r["pick_agrees_with_oracle"] else "no",
            "Spearman(objective, test)": f"{r['spearman_objective_test']:.2f}",
            "wall s": f"{r['wall_seconds']:.0f}",
        })
    publish("b10_tune", "# B10 — graft tune: the tuned configuration against the defaults\n\n"
            "Each row is one study (`graft tune`, TPE sampler, median pruner on the per-epoch objective). The "
            "objective is the validation accuracy (labeled target) or the label-free validator the run selects "
            "by (`mcc`: `im`); the defaults are the study's first trial (same seed and split). Test accuracies "
            "are read after the search only. `oracle's pick`: the complete trial with the best test accuracy "
            "(an upper bound no search can use). Wall time on the shared 2-core CPU machine.", rows)


if __name__ == "__main__":
    main()
