"""--config FILE.yaml on fit, compare and tune: a run's config.yaml reruns it; the command line wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

TINY = ["--epochs", "3", "--mlp-width", "16", "--mlp-depth", "1", "--no-progress"]


def _metrics(run: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((run / "metrics.json").read_text())


@pytest.mark.parametrize("strategy", ["scratch", "linear-probe"])
def test_a_runs_config_yaml_reruns_it_exactly(graft_cli, tmp_path: Path, blobs_npz: Path, strategy: str) -> None:  # type: ignore[no-untyped-def]
    first = tmp_path / "first"
    code, _, err = graft_cli("fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", strategy, "--seed", "1",
                             "--out", first, "--val-fraction", "0.2",
                             *(TINY if strategy == "scratch" else ["--mlp-width", "16", "--no-progress"]))
    assert code == 0, err
    # linear-probe's config.yaml records every engine option, which linear-probe would refuse if typed
    code, _, err = graft_cli("fit", "--config", first / "config.yaml", "--out", tmp_path / "again")
    assert code == 0, err
    a, b = _metrics(first), _metrics(tmp_path / "again")
    for key in ("strategy", "seed", "n_train_labeled", "n_val", "test_accuracy", "val_accuracy", "selected_epoch"):
        assert a[key] == b[key], key
    assert (first / "history.csv").read_text().count("\n") == (tmp_path / "again" / "history.csv").read_text().count("\n")


def test_the_command_line_overrides_the_file(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "opts.yaml"
    path.write_text(yaml.safe_dump({"model": "builtin:mlp", "data": f"npz:{blobs_npz}", "strategy": "scratch",
                                    "epochs": 4, "lr": 0.01, "mlp-width": 8, "seed": 3, "progress": False}))
    code, _, err = graft_cli("fit", "--config", path, "--epochs", "2", "--seed", "5", "--out", tmp_path / "run")
    assert code == 0, err
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["train"]["epochs"] == 2 and config["seed"] == 5  # the command line
    assert config["train"]["lr"] == 0.01 and config["mlp_width"] == 8  # the file


def test_compare_and_tune_take_a_config_file(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "opts.yaml"
    path.write_text(yaml.safe_dump({"model": "builtin:mlp", "data": f"npz:{blobs_npz}", "strategies": ["scratch"],
                                    "seeds": [0, 1], "epochs": 2, "mlp_width": 8, "val_fraction": 0.3,
                                    "progress": False}))
    code, _, err = graft_cli("compare", "--config", path, "--out", tmp_path / "cmp")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "cmp" / "runs").iterdir()) == ["mlp-scratch-s0", "mlp-scratch-s1"]

    tune_file = tmp_path / "tune.yaml"
    tune_file.write_text(yaml.safe_dump({"model": "builtin:mlp", "data": f"npz:{blobs_npz}", "strategy": "scratch",
                                         "trials": 2, "space": ["lr=1e-3:1e-1:log"], "epochs": 2, "mlp_width": 8,
                                         "val_fraction": 0.3, "progress": False}))
    code, _, err = graft_cli("tune", "--config", tune_file, "--out", tmp_path / "tune")
    assert code == 0, err
    best = yaml.safe_load((tmp_path / "tune" / "best.yaml").read_text())
    assert best["epochs"] == 2 and 1e-3 <= best["lr"] <= 1e-1
    # tune's best.yaml is a --config for fit
    code, _, err = graft_cli("fit", "--config", tmp_path / "tune" / "best.yaml", "--out", tmp_path / "best-again")
    assert code == 0, err


@pytest.mark.parametrize(("body", "expected"), [
    ({"model": "builtin:mlp", "data": "npz:DATA", "epochz": 3}, ["Unknown option 'epochz'", "Did you mean 'epochs'?"]),
    ({"model": "builtin:mlp", "data": "npz:DATA", "strategy_options": {"lable_smoothing": 0.1}},
     ["Unknown option 'lable-smoothing'", "Did you mean 'label-smoothing'?"]),
    ({"data": "npz:DATA"}, ["Missing option '--model'", "model:", "--config"]),
    ("- a list\n- of things\n", ["must hold a mapping of options"]),
    ("model: [unclosed\n", ["is not valid YAML"]),
])
def test_config_file_mistakes_exit_2_with_one_line(graft_cli, tmp_path: Path, blobs_npz: Path,  # type: ignore[no-untyped-def]
                                                   body: object, expected: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    text = body if isinstance(body, str) else yaml.safe_dump(body)
    path.write_text(text.replace("npz:DATA", f"npz:{blobs_npz}"))
    code, _, err = graft_cli("fit", "--config", path, "-s", "scratch", "--out", tmp_path / "run")
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    for text in expected:
        assert text in err
    code, _, err = graft_cli("fit", "--config", tmp_path / "missing.yaml")
    assert code == 2 and "does not exist" in err
