"""graft.tune end to end on a tiny table: trials, outputs, resuming a stored study, pruning."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml

import graft
from graft.errors import ConfigError
from tests.tuning.conftest import TINY


def test_trials_run_and_best_yaml_holds_values_inside_the_space(tmp_path: Path, tune_npz: Path) -> None:
    out = tmp_path / "tune"
    result = graft.tune("builtin:mlp", f"npz:{tune_npz}", strategy="scratch", trials=3, out=out,
                        space=["lr=1e-3:1e-1:log"], **TINY)
    trials = result.study.trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert trials[0].user_attrs["defaults"] and trials[0].params["lr"] == pytest.approx(1e-3)  # scratch's default
    assert sorted({(out / "trials" / f"{i:03d}" / "metrics.json").exists() for i in range(3)}) == [True]

    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["strategy"] == "scratch" and best["epochs"] == 3 and best["mlp_width"] == 16
    assert 1e-3 <= best["lr"] <= 1e-1
    assert 1e-3 <= best["weight_decay"] <= 1e-1  # scratch's 0.01 × [0.1, 10]
    assert 0.0 <= best["label_smoothing"] <= 0.2
    assert best["lr"] == result.best_params["lr"]

    # Each trial's objective is its run's validation accuracy at the selected epoch, never a test figure.
    for t in trials:
        metrics = json.loads((Path(t.user_attrs["run_dir"]) / "metrics.json").read_text())
        assert t.value == pytest.approx(metrics["val_accuracy"])
    assert result.best_value == max(t.value for t in trials)
    chosen = json.loads((out / "best" / "metrics.json").read_text())
    assert result.test == {"test_accuracy": chosen["test_accuracy"], "test_macro_f1": chosen["test_macro_f1"],
                           "n_test": chosen["n_test"]}

    text = (out / "tune.md").read_text()
    for section in ("## Best trial", "## Trials", "## Search space", "## Test accuracy of the chosen configuration"):
        assert section in text
    assert text.count("test_accuracy") == 1  # the test figure appears once, in its own section
    assert (out / "plots" / "history.png").stat().st_size > 0
    assert (out / "plots" / "importance.png").exists()  # three complete trials with different values

    # best.yaml is what graft fit takes: rerunning it reproduces the best trial's run.
    command = {k: v for k, v in best.items() if k not in ("model", "data", "strategy")}
    rerun = graft.fit(best["model"], best["data"], best["strategy"], out=tmp_path / "rerun", **command)
    assert rerun.metrics["val_accuracy"] == pytest.approx(result.best_value)


def test_a_stored_study_continues_instead_of_restarting(tmp_path: Path, tune_npz: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    common = dict(strategy="scratch", storage=storage, study="s", out=tmp_path / "tune", **TINY)
    first = graft.tune("builtin:mlp", f"npz:{tune_npz}", trials=2, **common)
    values = [t.value for t in first.study.trials]
    # A trial whose process died (kill -9) stays RUNNING in the storage; it does not count as finished.
    optuna.load_study(study_name="s", storage=storage).ask()
    again = graft.tune("builtin:mlp", f"npz:{tune_npz}", trials=3, **common)
    trials = [t for t in again.study.trials if t.state != optuna.trial.TrialState.RUNNING]
    assert [t.number for t in trials] == [0, 1, 3]  # one trial added, the first two kept
    assert [t.value for t in trials[:2]] == values
    assert sum(bool(t.user_attrs.get("defaults")) for t in trials) == 1  # the defaults run once
    done = graft.tune("builtin:mlp", f"npz:{tune_npz}", trials=3, **common)
    assert len(done.study.trials) == 4  # --trials reached: nothing more runs
    assert (tmp_path / "tune" / "trials" / "003" / "metrics.json").exists()

    with pytest.raises(ConfigError, match="created for strategy 'scratch'"):
        graft.tune("builtin:mlp", f"npz:{tune_npz}", **{**common, "strategy": "finetune"}, trials=3)


def test_the_median_pruner_stops_a_hopeless_trial(tmp_path: Path, tune_npz: Path) -> None:
    # The defaults learn; learning rates of 1e-7 and 1e-6 leave the model at its start, so their
    # per-epoch validation falls below the median of the first trial and they are pruned.
    result = graft.tune("builtin:mlp", f"npz:{tune_npz}", strategy="scratch", trials=3, out=tmp_path / "tune",
                        space=["lr=1e-7:3e-2:log"], weight_decay=0.0, label_smoothing=0.0, warmup_epochs=0,
                        pruner=optuna.pruners.MedianPruner(n_startup_trials=1),
                        sampler=optuna.samplers.GridSampler({"lr": [1e-7, 1e-6]}, seed=0),
                        **{**TINY, "epochs": 4})
    states = [t.state for t in result.study.trials]
    assert states[0] == optuna.trial.TrialState.COMPLETE
    assert optuna.trial.TrialState.PRUNED in states[1:]
    pruned = next(t for t in result.study.trials if t.state == optuna.trial.TrialState.PRUNED)
    assert pruned.intermediate_values and pruned.user_attrs["epochs_run"] < 4
    run_dir = Path(pruned.user_attrs["run_dir"])
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "checkpoints").exists()
    assert result.best_params["lr"] == pytest.approx(1e-3)
    assert "pruned" in (tmp_path / "tune" / "tune.md").read_text()


def test_domain_adaptation_is_scored_by_its_label_free_validator(tmp_path: Path, tune_npz: Path) -> None:
    from graft.strategies import STRATEGIES
    from graft.tuning.tune import objective_of

    assert objective_of(STRATEGIES.get("mcc"), {}, {"select_by": "snd"}, {})[0] == "snd"
    assert objective_of(STRATEGIES.get("finetune"), {}, {}, {"monitor": "val_loss"})[0] == "val_loss"
    with pytest.raises(ConfigError, match="--val-fraction"):
        objective_of(STRATEGIES.get("scratch"), {"val_fraction": 0}, {}, {})


def test_domain_adaptation_with_target_val_is_scored_by_those_labeled_examples(tmp_path: Path,
                                                                             tune_npz: Path) -> None:
    from graft.strategies import STRATEGIES
    from graft.tuning.tune import objective_of

    objective, text = objective_of(STRATEGIES.get("dann"), {}, {"target_val": 4}, {})
    assert objective == "val_accuracy" and "--target-val" in text
    result = graft.tune("builtin:mlp", f"npz:{tune_npz}", strategy="dann", source=f"npz:{tune_npz}", trials=2,
                        out=tmp_path / "tune", space=["lr=1e-3:1e-1:log"], target_val=4,
                        **{**TINY, "epochs": 4})
    for t in result.study.trials:
        metrics = json.loads((Path(t.user_attrs["run_dir"]) / "metrics.json").read_text())
        assert metrics["n_val"] == 12 and metrics["selected_by"] == "val"
        assert t.value == pytest.approx(metrics["val_accuracy"])
