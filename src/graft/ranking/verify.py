"""``--verify N``: fine-tune the top-N models with graft's default strategy and measure how
well each score ordered them (Kendall tau and weighted tau against test accuracy)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graft.ranking.candidates import Candidate
from graft.ranking.result import RankResult, comparable

CONSENSUS = "consensus"


def verify_top(result: RankResult, candidates: list[Candidate], data: Any, n: int, *, seed: int,
               out: str | Path | None, run_options: dict[str, Any], train_options: dict[str, Any],
               progress: bool = True, resume: bool = False) -> None:
    """Fine-tune the ``n`` best-ranked models (all when ``n`` is larger) with :func:`graft.fit`'s
    default strategy, same K, seed and split (with ``resume``, a finished run in ``out/verify`` is reused);
    adds ``test_accuracy`` and ``finetune_seconds``
    to ``result.table`` and sets ``result.correlations``."""
    from graft.api import fit

    by_label = {c.label: c for c in candidates}
    top = list(result.table["model"].iloc[:n])
    accuracy: dict[str, float] = {}
    seconds: dict[str, float] = {}
    extra = dict(train_options)
    if not progress:
        extra.setdefault("progress", False)
    for i, label in enumerate(top):
        if progress:
            print(f"verify {i + 1}/{len(top)}: fine-tuning {label}", file=sys.stderr, flush=True)
        c = by_label[label]
        run_dir = Path(out) / "verify" / _slug(label) if out is not None else None
        kwargs = {**run_options, **c.options, **extra}
        if run_dir is None:
            run = fit(c.spec, data, labels_per_class=result.labels_per_class, seed=seed, **kwargs)
        else:
            from graft.continuation import continue_run

            run = continue_run(fit, run_dir, c.spec, data, resume=resume,
                               labels_per_class=result.labels_per_class, seed=seed, **kwargs)
        accuracy[label] = run.metrics["test_accuracy"]
        seconds[label] = run.metrics["train_seconds"]
    result.table["test_accuracy"] = result.table["model"].map(accuracy)
    result.table["finetune_seconds"] = result.table["model"].map(seconds)
    result.correlations = correlations(result.table, result.scores)


def correlations(table: pd.DataFrame, scores: list[str]) -> pd.DataFrame:
    """Per score (and the consensus): Kendall tau and weighted tau of the score against
    ``test_accuracy`` over the verified models, its top-1 pick and that pick's accuracy."""
    from scipy.stats import kendalltau, weightedtau

    verified = table[table["test_accuracy"].notna()]
    acc = verified["test_accuracy"].to_numpy(dtype=float)
    rows = []
    for name in [*scores, CONSENSUS]:
        values = (-verified["consensus_rank"] if name == CONSENSUS else pd.to_numeric(verified[name], errors="coerce"))
        values = comparable(values.to_numpy(dtype=float))
        ok = np.isfinite(values)
        row: dict[str, Any] = {"score": name, "models": int(ok.sum()), "kendall_tau": np.nan, "weighted_tau": np.nan,
                               "top1_pick": None, "top1_accuracy": np.nan, "best_accuracy": float(acc.max())}
        if ok.sum() >= 2 and np.ptp(values[ok]) > 0 and np.ptp(acc[ok]) > 0:
            row["kendall_tau"] = float(kendalltau(values[ok], acc[ok]).statistic)
            row["weighted_tau"] = float(weightedtau(values[ok], acc[ok]).statistic)
        if ok.any():
            pick = int(np.flatnonzero(ok)[np.argmax(values[ok])])
            row["top1_pick"] = str(verified["model"].iloc[pick])
            row["top1_accuracy"] = float(acc[pick])
        rows.append(row)
    return pd.DataFrame(rows)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label.rstrip("/").split("/")[-1]).strip("_") or "model"
