"""One trial of ``graft tune``: a ``graft fit`` run with the trial's options, scored on validation.

The objective is the value that selected the run's checkpoint: the validation metric of a labeled
target (``--monitor``, ``val_accuracy`` by default), or the label-free validator of a
domain-adaptation run (``--select-by``). The test split never reaches the search: each run scores
it in its own metrics.json, which the search does not read.
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graft.errors import ConfigError
from graft.options import flag, value_text
from graft.tuning.space import Param

if TYPE_CHECKING:
    import optuna

    from graft.run import Run


@dataclass
class TrialRunner:
    """Runs trials of one study: the fixed part of the ``fit`` call and the searched options.

    Attributes:
        fit_args: Arguments of :func:`graft.api.fit` shared by every trial (model, data,
            strategy, labels_per_class, seed, source, ...), without ``out``.
        fixed: The options the user fixed.
        space: The searched options.
        objective: The history column that selects a run's checkpoint and scores the trial.
        trials_dir: Where each trial's run directory goes (``NNN`` by trial number).
        progress: Print one line per trial to stderr.
    """

    fit_args: Mapping[str, Any]
    fixed: Mapping[str, Any]
    space: Mapping[str, Param]
    objective: str
    trials_dir: Path
    progress: bool = True

    def __call__(self, trial: optuna.Trial) -> float:
        import optuna

        from graft.engine.trainer import attached_callbacks

        params = {name: param.suggest(trial) for name, param in self.space.items()}
        run_dir = self.trials_dir / f"{trial.number:03d}"
        trial.set_user_attr("run_dir", str(run_dir))
        self._say(f"trial {trial.number}: " + " ".join(f"{flag(k)} {_short(v)}" for k, v in params.items()))
        reporter = TrialReporter(trial, self.objective)
        fit = _api_fit()
        try:
            with attached_callbacks(reporter):
                run = fit(**self.fit_args, out=run_dir, overwrite=True, **self.fixed, **params)
        except optuna.TrialPruned:
            trial.set_user_attr("epochs_run", reporter.epoch)
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # a pruned run is never resumed
            self._say(f"trial {trial.number} pruned after epoch {reporter.epoch}: {self.objective} "
                      f"{_short(reporter.value)}")
            raise
        value = selected_value(run, self.objective)
        trial.set_user_attr("epochs_run", run.metrics.get("epochs_run"))
        trial.set_user_attr("selected_epoch", run.metrics.get("selected_epoch"))
        trial.set_user_attr("train_seconds", run.metrics.get("train_seconds"))
        self._say(f"trial {trial.number} done: {self.objective} {_short(value)}")
        return value

    def _say(self, text: str) -> None:
        if self.progress:
            print(text, file=sys.stderr, flush=True)


class TrialReporter:
    """Engine callback: each validated epoch's selecting value goes to the trial, and the
    pruner may stop the run there (``optuna.TrialPruned`` ends ``fit``)."""

    def __init__(self, trial: optuna.Trial, objective: str) -> None:
        self.trial = trial
        self.objective = objective
        self.epoch = 0
        self.value: float | None = None

    def on_validation_end(self, epoch: int, row: Mapping[str, float], monitor: str) -> None:
        import optuna

        if monitor != self.objective:
            raise ConfigError(
                f"The run selects its checkpoint by '{monitor}' but the study optimises '{self.objective}'. "
                f"Fix: pass another --study name for this objective."
            )
        self.epoch, self.value = epoch, float(row[monitor])
        self.trial.report(self.value, epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")


def selected_value(run: Run, objective: str) -> float:
    """The objective at the run's selected epoch (the value its selection kept).

    Raises:
        ConfigError: The run computed no such value (no validation split, another monitor).
    """
    epoch = run.metrics.get("selected_epoch")
    for row in run.history:
        if row.get("epoch") == epoch and objective in row and not math.isnan(row[objective]):
            return float(row[objective])
    if objective == "val_accuracy" and run.metrics.get("val_accuracy") is not None:
        return float(run.metrics["val_accuracy"])  # a strategy that trains outside the loop (a probe)
    raise ConfigError(
        f"The run in '{run.run_dir}' computed no '{objective}' at its selected epoch, so the search has nothing to "
        f"optimise. Fix: keep a validation split (--val-fraction > 0) or pass a --monitor the run computes."
    )


def _api_fit() -> Callable[..., Run]:
    from graft.api import fit

    return fit


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return value_text(value)
