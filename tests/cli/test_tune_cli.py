"""graft tune at the command line: a search end to end, and each user mistake in one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

TINY = ["--epochs", "2", "--batch-size", "16", "--val-fraction", "0.3", "--mlp-width", "16", "--mlp-depth", "1"]


def test_tune_writes_report_best_yaml_and_the_best_run(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "tune"
    code, stdout, err = graft_cli("-q", "tune", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", "scratch",
                                  "--trials", "2", "--out", out, "--space", "lr=1e-3:1e-1:log", *TINY)
    assert code == 0, err
    assert "reported once" in stdout and "best val_accuracy" in stdout
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert 1e-3 <= best["lr"] <= 1e-1 and best["epochs"] == 2
    assert (out / "best" / "metrics.json").exists() and (out / "tune.md").exists()


@pytest.mark.parametrize(("args", "expected"), [
    (["--trials", "0"], ["'--trials'", ">= 1", "Got 0", "Fix: pass e.g. --trials 20"]),
    (["--space", "lrr=1e-4:1e-2"], ["Unknown --space key 'lrr'", "Did you mean 'lr'?", "Allowed:", "Fix:"]),
    (["--space", "lr=1e-2:1e-4"], ["LOW must be smaller than HIGH", "Got 'lr=1e-2:1e-4'", "Fix:"]),
    (["--storage", "sqlite:////no/such/folder/study.db"], ["Optuna cannot open the storage", "Allowed:", "Fix:"]),
    (["--storage", "study.db"], ["--storage must be a database URL", "sqlite:///study.db"]),
    (["--pruner", "medain"], ["'--pruner'", "Did you mean 'median'?"]),
    (["--epochz", "2"], ["Unknown option 'epochz'", "Did you mean 'epochs'?"]),
])
def test_tune_mistakes_exit_2_with_one_line(graft_cli, tmp_path: Path, blobs_npz: Path,  # type: ignore[no-untyped-def]
                                            args: list[str], expected: list[str]) -> None:
    code, _, err = graft_cli("tune", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", "scratch",
                             "--out", tmp_path / "t", *args)
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
    for text in expected:
        assert text in err
    assert not (tmp_path / "t" / "trials").exists()  # refused before any trial ran


def test_a_study_of_another_strategy_is_refused(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    base = ["tune", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "--trials", "1", "--storage", storage,
            "--study", "shared", "--out", tmp_path / "t", *TINY, "--no-progress"]
    code, _, err = graft_cli(*base, "-s", "scratch")
    assert code == 0, err
    code, _, err = graft_cli(*base, "-s", "finetune")
    assert code == 2
    assert "The study 'shared' in this storage was created for strategy 'scratch'" in err
    assert "Fix: pass another --study name" in err and "Traceback" not in err
