"""``graft tune``: an Optuna study over a strategy's declared search space.

Each trial is a ``graft fit`` run in ``OUT/trials/NNN`` with the trial's options; its objective is
the value that selected its checkpoint (validation, or the label-free validator of a
domain-adaptation run), reported per epoch to a median pruner. The first trial of a new study
runs the defaults, so the search returns nothing worse on validation than not searching. At the
end: ``tune.md``, ``best.yaml``, ``trials.csv``, the plots, and the best run copied to ``OUT/best``,
whose test accuracy is the one test figure of the whole search.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graft.engine.config import TrainConfig
from graft.engine.trainer import monitor_mode
from graft.errors import ConfigError
from graft.options import build_config, convert
from graft.run_options import RunOptions
from graft.tuning.report import fit_command, trials_table, write_best_yaml, write_plots, write_tune_md
from graft.tuning.space import Param, search_space
from graft.tuning.study import default_study_name, open_storage, open_study
from graft.tuning.trial import TrialRunner

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from graft.strategies.base import Strategy

PRUNERS = ("median", "none")
#: Trials that finish before the median pruner compares.
PRUNER_STARTUP_TRIALS = 5
#: The share of a run's epochs before its values are compared: early values of a good configuration
#: (a warm-up, LP-FT's probe start, a slow high-regularisation start) do not tell yet. From the
#: first epoch on, the median of the completed (the better) trials pruned 14-16 of 20 LeNet
#: fine-tuning trials on digits K=10 (B10), mostly on one-example differences in validation.
PRUNER_WARMUP_SHARE = 1 / 3


@dataclass
class TuneResult:
    """A finished (or continued) search.

    Attributes:
        out: The tune directory.
        study: The Optuna study (``study.trials``, ``study.best_trial``).
        objective: What the trials optimised (``val_accuracy``, or a label-free validator).
        best_params: The best trial's searched options (empty when no trial completed).
        best_value: Its objective value.
        best_run_dir: Its run, copied to ``OUT/best`` (None when it is on another machine).
        test: The best run's test figures, the only ones the search reports.
    """

    out: Path
    study: optuna.Study
    objective: str
    best_params: dict[str, Any]
    best_value: float | None
    best_run_dir: Path | None
    test: dict[str, Any] | None

    def table(self) -> pd.DataFrame:
        """One row per trial: state, objective, epochs, seconds, each parameter."""
        return trials_table(self.study)


def run_tune(
    model: Any,
    data: Any,
    *,
    strategy: str,
    trials: int = 20,
    timeout: float | None = None,
    storage: str | None = None,
    study: str | None = None,
    out: str | Path | None = None,
    space: Sequence[str] | Mapping[str, Any] | None = None,
    labels_per_class: int | None = None,
    seed: int = 0,
    source: Any = None,
    teacher: Any = None,
    unlabeled: Any = None,
    pruner: str | optuna.pruners.BasePruner = "median",
    sampler: optuna.samplers.BaseSampler | None = None,
    **options: Any,
) -> TuneResult:
    """Search ``strategy``'s options on validation; see :func:`graft.api.tune`."""
    import optuna

    from graft.option_groups import check_unused, split_options
    from graft.strategies import STRATEGIES

    _check_counts(trials, timeout)
    _check_one_process(options)
    strategy_cls = STRATEGIES.get(strategy)
    named = ("labels_per_class", "seed", "out", "source", "teacher", "unlabeled", "trials", "timeout", "storage",
             "study", "space", "pruner")
    run_opts, strat_opts, train_opts = split_options(strategy_cls, options, named=named)
    check_unused(strategy_cls, train_opts)
    kind = _input_kind(strategy_cls, data, run_opts)
    params = search_space(strategy_cls, options, space, kind=kind)
    objective, objective_text = objective_of(strategy_cls, run_opts, strat_opts, train_opts)
    direction = "minimize" if monitor_mode(objective) == "min" else "maximize"
    progress = str(options.get("progress", True)).lower() not in ("false", "0", "no", "off")
    pruner_obj = _pruner(pruner, _shortest_run(strategy_cls, train_opts, params, kind))

    name = study or default_study_name(strategy, _name(model), _name(data), labels_per_class)
    out = Path(out) if out is not None else Path("runs") / name
    storage_obj = open_storage(storage)
    identity = {"strategy": strategy, "model": _name(model), "data": _name(data),
                "source": _name(source) if source is not None else None, "labels_per_class": labels_per_class,
                "objective": objective, "direction": direction,
                "space": {k: p.as_dict() for k, p in params.items()}}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        # Seeded in memory, so a search repeats; unseeded on a shared storage, so two workers (or a
        # worker resumed after a crash) do not draw the same random start-up trials.
        chosen = sampler or optuna.samplers.TPESampler(seed=seed if storage is None else None)
        opened, created = open_study(name, storage_obj, identity, sampler=chosen, pruner=pruner_obj)
        if created:
            _enqueue_defaults(opened, strategy_cls, strat_opts, params, kind)
        done = _finished(opened)
        fixed = typed_options(strategy_cls, options)
        command = {"model": _name(model), "data": _name(data), "strategy": strategy,
                   "labels_per_class": labels_per_class, "seed": seed, "source": _spec(source),
                   "teacher": _spec(teacher), "unlabeled": _spec(unlabeled)}
        runner = TrialRunner(
            fit_args={"model": model, "data": data, "strategy": strategy, "labels_per_class": labels_per_class,
                      "seed": seed, "source": source, "teacher": teacher, "unlabeled": unlabeled},
            fixed=fixed, space=params, objective=objective, trials_dir=out / "trials", progress=progress)
        if done < trials:
            out.mkdir(parents=True, exist_ok=True)
            states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
            # Completed and pruned trials of every process count toward --trials; a diverging
            # trial (FloatingPointError) fails alone and the search goes on.
            opened.optimize(runner, n_trials=trials - done, timeout=timeout, catch=(FloatingPointError,),
                            callbacks=[optuna.study.MaxTrialsCallback(trials, states=states)])
        elif progress:
            import sys

            print(f"The study '{name}' already has {done} finished trials (--trials {trials}): nothing to run.",
                  file=sys.stderr, flush=True)
        return _finish(opened, out, params, identity, objective_text, command, fixed, storage)
    finally:
        optuna.logging.set_verbosity(verbosity)


def objective_of(strategy_cls: type[Strategy], run_opts: Mapping[str, Any], strat_opts: Mapping[str, Any],
                 train_opts: Mapping[str, Any]) -> tuple[str, str]:
    """The history column a trial is scored by, and how it reads in tune.md.

    A strategy that chooses what selects its checkpoints (``Strategy.selects_by``: domain adaptation's
    label-free ``--select-by``, or the labeled examples of ``--target-val K``) is scored by it; any other by its
    validation ``--monitor``.

    Raises:
        ConfigError: A labeled target without a validation split (nothing to score trials by).
    """
    owner = f"strategy '{strategy_cls.name}'"
    strategy_cfg = build_config(strategy_cls.Config, strat_opts, owner)
    own = strategy_cls.selects_by(strategy_cfg)
    if own is not None:
        return own
    train_cfg = build_config(TrainConfig, {**strategy_cls.train_defaults, **train_opts}, "the engine")
    run_cfg = build_config(RunOptions, run_opts, "graft tune")
    if run_cfg.val_fraction == 0:
        raise ConfigError(
            "graft tune scores each trial on the validation split, but --val-fraction 0 keeps none (and the test "
            "split is never used). Got --val-fraction 0. Fix: pass e.g. --val-fraction 0.2, or leave it out."
        )
    return train_cfg.monitor, f"`{train_cfg.monitor}` on the validation split (--monitor)"


def typed_options(strategy_cls: type[Strategy], options: Mapping[str, Any]) -> dict[str, Any]:
    """Command-line strings converted to their fields' types (``"5"`` → 5), names with underscores."""
    configs = (strategy_cls.Config, TrainConfig, RunOptions)
    out: dict[str, Any] = {}
    for key, value in options.items():
        name = key.replace("-", "_")
        for config in configs:
            if name in {f.name for f in dataclasses.fields(config)}:
                value = convert(value, typing.get_type_hints(config)[name], name)
                break
        out[name] = value
    return out


def _finish(study: optuna.Study, out: Path, params: Mapping[str, Param], identity: Mapping[str, Any],
            objective_text: str, command: Mapping[str, Any], fixed: Mapping[str, Any],
            storage: str | None) -> TuneResult:
    """Write the outputs of the study as it stands (also for a study another process runs)."""
    import optuna

    out.mkdir(parents=True, exist_ok=True)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial if complete else None
    best_dir: Path | None = None
    test: dict[str, Any] | None = None
    if best is not None:
        source_dir = Path(best.user_attrs.get("run_dir", ""))
        if (source_dir / "metrics.json").exists():
            best_dir = out / "best"
            if best_dir.exists():
                shutil.rmtree(best_dir)
            shutil.copytree(source_dir, best_dir)
            metrics = json.loads((best_dir / "metrics.json").read_text())
            test = {k: metrics[k] for k in ("test_accuracy", "test_macro_f1", "oracle_test_accuracy", "n_test")
                    if metrics.get(k) is not None}
        write_best_yaml(out / "best.yaml", command, _public(fixed), best.params, float(best.value or 0.0),
                        identity["objective"], best.number)
    trials_table(study).to_csv(out / "trials.csv", index=False)
    plots = write_plots(study, out / "plots") if study.trials else {}
    summary = {**identity, "study": study.study_name, "objective_text": objective_text, "storage": storage,
               "best_dir": best_dir}
    write_tune_md(out / "tune.md", summary=summary, space=params, study=study, plots=plots, test=test,
                  command=fit_command(command, _public(fixed), best.params) if best is not None else None)
    return TuneResult(out=out, study=study, objective=identity["objective"],
                      best_params=dict(best.params) if best is not None else {},
                      best_value=best.value if best is not None else None, best_run_dir=best_dir, test=test)


def _input_kind(strategy_cls: type[Strategy], data: Any, run_opts: Mapping[str, Any]) -> str | None:
    """The data's input kind when the strategy's engine defaults depend on it (the model takes the same
    kind), else None; read once, before the first trial."""
    if not strategy_cls.kind_train_defaults:
        return None
    from graft.data import load_source

    label_opts = build_config(RunOptions, dict(run_opts), "graft tune").load_options()
    return str(load_source(data, **label_opts, require_labels=False).kind)


def _enqueue_defaults(study: optuna.Study, strategy_cls: type[Strategy], strat_opts: Mapping[str, Any],
                      params: Mapping[str, Param], kind: str | None = None) -> None:
    """A new study's first trial runs the defaults (those inside the space; the sampler picks the rest)."""
    strategy_cfg = build_config(strategy_cls.Config, strat_opts, f"strategy '{strategy_cls.name}'")
    engine = build_config(TrainConfig, strategy_cls.train_defaults_for(kind), "the engine")
    defaults = {}
    for name, param in params.items():
        value = getattr(strategy_cfg, name) if hasattr(strategy_cfg, name) else getattr(engine, name, None)
        if value is None:  # an option whose default depends on the model's kind (--backbone-lr-scale)
            value = strategy_cls.unset_value(name, kind)
        if param.contains(value):
            defaults[name] = value
    study.enqueue_trial(defaults, user_attrs={"defaults": True}, skip_if_exists=True)


def _finished(study: optuna.Study) -> int:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def _shortest_run(strategy_cls: type[Strategy], train_opts: Mapping[str, Any], params: Mapping[str, Param],
                  kind: str | None = None) -> int:
    """Epochs of the shortest trial: the fixed or default ``--epochs``, or the low end of its range."""
    if "epochs" in params:
        return int(params["epochs"].low)
    return build_config(TrainConfig, {**strategy_cls.train_defaults_for(kind), **train_opts}, "the engine").epochs


def _pruner(pruner: str | optuna.pruners.BasePruner, epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    if not isinstance(pruner, str):
        return pruner
    if pruner not in PRUNERS:
        from graft.errors import did_you_mean

        raise ConfigError(f"The '--pruner' option of graft tune must be one of {', '.join(PRUNERS)}. Got "
                          f"{pruner!r} instead.{did_you_mean(pruner, PRUNERS) or ' Fix: pass --pruner median.'}")
    if pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                       n_warmup_steps=max(1, int(epochs * PRUNER_WARMUP_SHARE)))


def _check_counts(trials: Any, timeout: Any) -> None:
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"The '--trials' option of graft tune must be an integer >= 1. Got {trials!r} instead. "
                          "Fix: pass e.g. --trials 20.")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"The '--timeout' option of graft tune must be > 0 seconds. Got {timeout!r} instead. "
                          "Fix: pass e.g. --timeout 3600, or leave it out to run every trial.")


def _check_one_process(options: Mapping[str, Any]) -> None:
    """A trial runs in one process: a DDP launch would start every rank as a search of its own."""
    from graft.engine.config import process_count

    devices = str(options.get("devices", "1"))
    if process_count(devices, options.get("num_nodes", 1), str(options.get("accelerator", "auto"))) > 1:
        raise ConfigError(
            f"graft tune runs each trial in one process; --devices {devices} (or --num-nodes) would start every "
            "process as a search of its own. Allowed: --devices 1. Fix: start one graft tune worker per device on "
            "one study (the same --storage and --study; CUDA_VISIBLE_DEVICES=i for GPU i): the workers share the "
            "trials."
        )


def _public(fixed: Mapping[str, Any]) -> dict[str, Any]:
    """The fixed options worth writing down (the progress bar is no option of the result)."""
    return {k: v for k, v in fixed.items() if k != "progress"}


def _name(spec: Any) -> str:
    return str(spec) if isinstance(spec, (str, Path)) else type(spec).__name__


def _spec(spec: Any) -> str | None:
    return None if spec is None else _name(spec)
