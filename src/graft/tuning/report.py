"""What ``graft tune`` writes: ``tune.md``, ``best.yaml``, ``trials.csv`` and ``plots/*.png``."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from graft.io import atomic_path, write_text
from graft.options import flag, value_text
from graft.run_dir import yaml_safe
from graft.tuning.space import Param

if TYPE_CHECKING:
    import optuna
    import pandas as pd


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, objective value, epochs, seconds, each parameter."""
    import pandas as pd

    rows = []
    for t in study.trials:
        rows.append({
            "trial": t.number, "state": t.state.name.lower(), "value": t.value,
            "epochs_run": t.user_attrs.get("epochs_run"),
            "seconds": t.duration.total_seconds() if t.duration is not None else None,
            "defaults": bool(t.user_attrs.get("defaults", False)),
            **{f"param_{k}": v for k, v in t.params.items()},
        })
    return pd.DataFrame(rows)


def write_best_yaml(path: Path, command: Mapping[str, Any], fixed: Mapping[str, Any], params: Mapping[str, Any],
                    value: float, objective: str, trial: int) -> None:
    """The best options as ``graft fit`` takes them: the command's own arguments, then every option."""
    body = {**{k: v for k, v in command.items() if v is not None}, **fixed, **params}
    head = (f"# graft tune: best trial {trial}, {objective} = {value:.6g} (validation; the test split was not used)\n"
            "# Options as graft fit takes them (--name value); the command's own first.\n")
    write_text(path, head + yaml.safe_dump(yaml_safe(body), sort_keys=False))


def fit_command(command: Mapping[str, Any], fixed: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """The ``graft fit`` command line that reruns the best trial."""
    parts = ["graft fit"]
    for key, value in {**command, **fixed, **params}.items():
        if value is None:
            continue
        if isinstance(value, bool):
            parts.append(flag(key) if value else f"--no-{flag(key)[2:]}")
        else:  # full precision: the command reruns the trial's exact values
            parts.append(f"{flag(key)} {repr(value) if isinstance(value, float) else value_text(value)}")
    return " ".join(parts)


def write_plots(study: optuna.Study, plots: Path) -> dict[str, str]:
    """Optuna's optimisation history, intermediate values and parameter importances as PNGs.

    Returns:
        Plot name → path relative to the tune directory; importance only with two or more
        complete trials (it compares them), intermediate values only when trials reported any.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    wanted: dict[str, Callable[[optuna.Study], Any]] = {"history": ovm.plot_optimization_history}
    if any(t.intermediate_values for t in study.trials):
        wanted["intermediate"] = ovm.plot_intermediate_values
    if len(complete) >= 2 and _varied(complete):
        wanted["importance"] = ovm.plot_param_importances
    made: dict[str, str] = {}
    plots.mkdir(parents=True, exist_ok=True)
    for name, plot in wanted.items():
        with warnings.catch_warnings():
            # Optuna marks its matplotlib plots experimental, and warns when few trials make every
            # importance equal; tune.md says what the plots can and cannot show.
            warnings.simplefilter("ignore")
            plot(study)
        figure = plt.gcf()  # each plot draws a new figure
        figure.set_size_inches(7, 4)
        figure.tight_layout()
        with atomic_path(plots / f"{name}.png") as tmp:
            figure.savefig(tmp, dpi=100, format="png")
        plt.close(figure)
        made[name] = f"plots/{name}.png"
    return made


def write_tune_md(path: Path, *, summary: Mapping[str, Any], space: Mapping[str, Param], study: optuna.Study,
                  plots: Mapping[str, str], test: Mapping[str, Any] | None, command: str | None) -> None:
    """``tune.md``: the best trial, the table of trials, the space, the plots, and apart, the test figure."""
    import optuna

    states = [t.state for t in study.trials]
    count = {s: states.count(s) for s in optuna.trial.TrialState}
    lines = [f"# graft tune: {summary['study']}", "",
             f"- strategy `{summary['strategy']}`, model `{summary['model']}`, data `{summary['data']}`"
             + (f", source `{summary['source']}`" if summary.get("source") else "")
             + (f", K = {summary['labels_per_class']}" if summary.get("labels_per_class") else ""),
             f"- objective: {summary['objective_text']}; {summary['direction']}",
             f"- trials: {count[optuna.trial.TrialState.COMPLETE]} complete, "
             f"{count[optuna.trial.TrialState.PRUNED]} pruned (median pruner on the per-epoch value), "
             f"{count[optuna.trial.TrialState.FAIL]} failed, {count[optuna.trial.TrialState.RUNNING]} running"
             + (f"; storage `{summary['storage']}`" if summary.get("storage") else "; in memory"), ""]
    best = _best(study)
    lines += ["## Best trial", ""]
    if best is None:
        lines += ["No trial completed yet.", ""]
    else:
        which = " (the defaults)" if best.user_attrs.get("defaults") else ""
        epoch = best.user_attrs.get("selected_epoch")
        lines += [f"Trial {best.number}{which}: **{summary['objective']} = {best.value:.4f}** at epoch {epoch}.", "",
                  "| option | value | searched over |", "|---|---|---|"]
        for name, value in best.params.items():
            rng = space[name].describe() if name in space else "(an earlier space)"
            lines.append(f"| `{flag(name)}` | {_text(value)} | {rng} |")
        lines += ["", f"Options: `best.yaml`; its run: `{summary.get('best_dir') or best.user_attrs.get('run_dir')}`."]
        if command:
            lines += ["", "Rerun it:", "", "```", command, "```"]
        lines.append("")
    lines += ["## Trials", "", _trials_markdown(study, summary["objective"]), ""]
    lines += ["## Search space", "", "| option | range | declared by |", "|---|---|---|"]
    lines += [f"| `{flag(p.name)}` | {p.describe()}{' (integers)' if p.integer else ''} | {p.origin} |"
              for p in space.values()]
    lines.append("")
    lines += ["## Plots", ""]
    if "importance" not in plots:
        lines += ["Parameter importance needs two or more complete trials with different values.", ""]
    for name, rel in plots.items():
        lines += [f"![{name}]({rel})", ""]
    lines += ["## Test accuracy of the chosen configuration", ""]
    if test is None:
        lines += ["Not measured: no trial completed, or the best trial's run is on another machine.", ""]
    else:
        lines += ["Reported once, here; no trial's objective used the test split.", ""]
        lines += [f"- {k}: {_text(v)}" for k, v in test.items()]
        lines.append("")
    write_text(path, "\n".join(lines))


def _trials_markdown(study: optuna.Study, objective: str) -> str:
    names: list[str] = []
    for t in study.trials:
        names += [n for n in t.params if n not in names]
    head = ["trial", "state", objective, "epochs", "seconds", *(flag(n) for n in names)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in study.trials:
        state = t.state.name.lower() + (" (defaults)" if t.user_attrs.get("defaults") else "")
        seconds = t.duration.total_seconds() if t.duration is not None else None
        value = t.value if t.value is not None else (t.intermediate_values[max(t.intermediate_values)]
                                                     if t.intermediate_values else None)
        cells = [str(t.number), state, _text(value), _text(t.user_attrs.get("epochs_run")), _text(seconds),
                 *(_text(t.params.get(n)) for n in names)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no complete trial
        return None


def _varied(trials: list[Any]) -> bool:
    """Whether any parameter took two values (an importance needs something to compare)."""
    names = {n for t in trials for n in t.params}
    return any(len({t.params.get(n) for t in trials}) > 1 for n in names)


def _text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return value_text(value)
