"""``--folds K``: stratified K-fold evaluation, one run per fold, mean ± std over the folds.

Each fold is an ordinary run in ``OUT/fold-I`` whose ``config.yaml`` records ``fold: I`` (so
``graft fit --config OUT/fold-I/config.yaml`` reruns that fold exactly). With ``--fold-scope
val`` (the default) each fold is the validation split and the test split stays out, as in a
single run; with ``--fold-scope test`` each fold is the test split, so every labeled example
is tested exactly once and the folds' test figures cover the whole data set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: The per-fold metrics the summary reports (those present).
SUMMARISED = ("test_accuracy", "test_macro_f1", "val_accuracy", "train_seconds")


@dataclass
class CrossValidation:
    """The runs of every fold and their summary.

    Attributes:
        run_dir: The folder holding ``fold-I/`` runs, ``folds.csv`` and ``summary.md``.
        runs: One :class:`~graft.run.Run` per fold.
        table: One row per fold (its metrics).
        metrics: ``{metric: mean}`` and ``{metric_std: sample std}`` over the folds.
    """

    run_dir: Path
    runs: list[Any]
    table: pd.DataFrame
    metrics: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        from graft.report import format_mean_std

        lines = [f"# {len(self.runs)}-fold evaluation", "", "| metric | mean ± std | per fold |", "|---|---|---|"]
        for key in SUMMARISED:
            if key in self.table and self.table[key].notna().all():
                values = self.table[key].astype(float).to_numpy()
                per = " / ".join(f"{v:.3f}" for v in values)
                lines.append(f"| {key} | {format_mean_std(values.mean(), values.std(ddof=1))} | {per} |")
        return "\n".join(lines) + "\n"


def fit_folds(fit: Callable[..., Any], model: Any, data: Any, *, strategy: str, out: Any, options: dict[str, Any],
              **named: Any) -> CrossValidation:
    """Run ``fit`` once per fold (``options["folds"]`` of them) and summarise."""
    from graft.io import atomic_path, write_text
    from graft.run_dir import default_run_dir

    k = int(options["folds"])
    root = Path(out) if out is not None else default_run_dir(
        f"{strategy}-{k}fold", model if isinstance(model, str) else type(model).__name__,
        data if isinstance(data, str) else "data", named.get("seed", 0))
    runs, rows = [], []
    from graft.continuation import check_resume_flags, continue_run

    resume = bool(named.pop("resume", False))
    check_resume_flags(resume, False, out, "cross-validation")
    if resume:  # a finished fold is reused, an interrupted one continued, one not started trained
        named.pop("overwrite", None)
    for i in range(k):
        fold = {**named, **options, "fold": i, "strategy": strategy}
        run = (continue_run(fit, root / f"fold-{i}", model, data, resume=True, **fold) if resume
               else fit(model, data, out=root / f"fold-{i}", **fold))
        runs.append(run)
        rows.append({"fold": i, **{key: run.metrics.get(key) for key in SUMMARISED},
                     "n_train_labeled": run.metrics.get("n_train_labeled"), "n_val": run.metrics.get("n_val"),
                     "n_test": run.metrics.get("n_test"), "run_dir": str(run.run_dir)})
    table = pd.DataFrame(rows)
    metrics: dict[str, Any] = {"folds": k, "fold_scope": options.get("fold_scope", "val")}
    for key in SUMMARISED:
        if key in table and table[key].notna().all():
            values = table[key].astype(float).to_numpy()
            metrics[key], metrics[f"{key}_std"] = float(values.mean()), float(np.std(values, ddof=1))
    result = CrossValidation(root, runs, table, metrics)
    from graft.engine.ranks import is_main_process

    if is_main_process():
        with atomic_path(root / "folds.csv") as tmp:
            table.to_csv(tmp, index=False)
        write_text(root / "summary.md", result.summary())
    return result
