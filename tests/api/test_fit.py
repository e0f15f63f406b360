"""graft.fit / load_run / pretrain / compare: validation at the boundary and run directories."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

import graft
from graft.api import _check_needs
from graft.data import DataSource
from graft.errors import CheckpointError, ConfigError, MissingPathError, SpecError

QUIET = {"progress": False}


def test_unknown_strategy_suggests_the_closest(tmp_path: Path, blobs_npz: Path) -> None:
    with pytest.raises(SpecError, match="Unknown strategy 'finetun'. Did you mean 'finetune'\\?") as err:
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", "finetun", out=tmp_path)
    assert "Allowed:" in str(err.value) and "linear-probe" in str(err.value)


def test_unknown_option_names_the_allowed_options(tmp_path: Path, blobs_npz: Path) -> None:
    with pytest.raises(ConfigError) as err:
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", "finetune", out=tmp_path, layer_decy=0.7)
    msg = str(err.value)
    assert "Unknown option 'layer-decy'" in msg and "Did you mean 'layer-decay'?" in msg
    assert "Allowed:" in msg and all(o in msg for o in ("layer-decay", "epochs", "lr", "test-fraction"))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"epochs": "abc"}, "'--epochs' option of the engine must be of type int. Got 'abc'"),
        ({"epochs": 0}, "'--epochs' option of the engine must be >= 1. Got 0"),
        ({"lr": "-1"}, "'--lr' option of the engine must be > 0"),
        ({"schedule": "cosin"}, "'--schedule' option of the engine must be one of .*Did you mean 'cosine'"),
        ({"lp_init": "maybe"}, "'--lp-init' option of strategy 'finetune' must be of type bool"),
        ({"test_fraction": 1.5}, "'--test-fraction' option of graft fit must be in \\(0, 1\\). Got 1.5"),
    ],
)
def test_bad_option_values_fail_before_any_work(options: dict, pattern: str, tmp_path: Path, blobs_npz: Path) -> None:
    with pytest.raises(ConfigError, match=pattern):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", "finetune", out=tmp_path, **options)
    assert not (tmp_path / "config.yaml").exists()


def test_string_options_are_converted(tmp_path: Path, blobs_npz: Path) -> None:
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "finetune", out=tmp_path, epochs="2", lr="1e-2",
                    batch_size="16", **{"lp-init": "false", "layer-decay": "none", "progress": "false"})
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["train"]["epochs"] == 2 and config["train"]["lr"] == 0.01 and config["train"]["batch_size"] == 16
    assert config["train"]["progress"] is False
    assert config["strategy_options"]["lp_init"] is False and config["strategy_options"]["layer_decay"] is None
    assert run.metrics["epochs_run"] == 2 and len(run.history) == 2


def test_a_finished_run_is_not_overwritten(tmp_path: Path, blobs_npz: Path) -> None:
    out = tmp_path / "run"
    graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=out, epochs=1, seed=0, **QUIET)
    first = (out / "metrics.json").read_text()
    with pytest.raises(ConfigError, match="already holds a finished run.*--overwrite"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=out, epochs=2, seed=1, **QUIET)
    assert (out / "metrics.json").read_text() == first
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == 0

    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=out, epochs=2, seed=1, overwrite=True, **QUIET)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seed"] == 1 and metrics["epochs_run"] == 2 == run.metrics["epochs_run"]


def test_resume_without_a_checkpoint_is_a_checkpoint_error(tmp_path: Path, blobs_npz: Path) -> None:
    out = tmp_path / "never-ran"
    with pytest.raises(CheckpointError, match="--resume.*Fix: drop --resume") as err:
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=out, resume=True, epochs=1, **QUIET)
    assert str(out) in str(err.value)


def test_labels_per_class_keeps_k_per_class(tmp_path: Path, blobs_npz: Path) -> None:
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=tmp_path, labels_per_class=3,
                    epochs=1, **QUIET)
    assert run.metrics["n_train_labeled"] == 3 * 3
    with pytest.raises(ConfigError, match="--labels-per-class 50 is larger than the smallest class"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=tmp_path / "k", labels_per_class=50, **QUIET)
    with pytest.raises(ConfigError, match="--labels-per-class must be >= 1"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=tmp_path / "k0", labels_per_class=0, **QUIET)


def test_a_users_module_is_not_mutated(tmp_path: Path, blobs_source: DataSource) -> None:
    torch.manual_seed(0)
    mine = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU())
    before = {k: v.clone() for k, v in mine.state_dict().items()}
    flags = [p.requires_grad for p in mine.parameters()]
    run = graft.fit(mine, blobs_source, "finetune", out=tmp_path, epochs=2, lr=1e-2, lp_init=False, **QUIET)
    assert all(torch.equal(before[k], v) for k, v in mine.state_dict().items())
    assert [p.requires_grad for p in mine.parameters()] == flags
    assert mine.training
    assert run.metrics["model"] == "Sequential"
    trained = run.model.backbone.state_dict()
    assert any(not torch.equal(before[k], trained[k]) for k in before if k in trained)


def test_load_run_and_predict(finished_run: Path, blobs_npz: Path, blobs_source: DataSource) -> None:
    run = graft.load_run(finished_run)
    assert run.metrics["strategy"] == "scratch" and run.config["strategy"] == "scratch"
    assert len(run.history) == run.metrics["epochs_run"] == 3
    frame = run.predict(f"npz:{blobs_npz}")
    assert list(frame.columns[:3]) == ["index", "prediction", "confidence"]
    probs = frame[["p_0", "p_1", "p_2"]].to_numpy()
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)
    assert np.allclose(frame["confidence"], probs.max(1))
    assert set(frame["prediction"]) <= {0, 1, 2}  # integer labels come back as integers
    assert (frame["prediction"] == frame["label"]).mean() > 0.8
    # Arrays and DataSources are accepted as well as specs.
    x, y = np.load(blobs_npz)["X"], np.load(blobs_npz)["y"]
    assert list(run.predict((x, y))["prediction"]) == list(frame["prediction"])


def test_load_run_of_a_non_run_directory(tmp_path: Path) -> None:
    with pytest.raises(MissingPathError, match="not a graft run directory"):
        graft.load_run(tmp_path)


def test_check_needs_names_the_missing_stream() -> None:
    with pytest.raises(ConfigError, match="no source was given. Fix: pass --source"):
        _check_needs("dann", frozenset({"source", "target"}), source=None, teacher=None)
    with pytest.raises(ConfigError, match="Fix: pass --teacher run:DIR"):
        _check_needs("distill", frozenset({"teacher"}), source=None, teacher=None)
    _check_needs("scratch", frozenset(), source=None, teacher=None)


def test_list_strategies_describes_every_strategy() -> None:
    listing = graft.list_strategies()
    assert {"scratch", "linear-probe", "finetune"} <= set(listing)
    assert all(isinstance(v, str) and v for v in listing.values())


def test_pretrain_gives_a_run_any_fit_accepts(tmp_path: Path, shifted_source: DataSource, blobs_npz: Path) -> None:
    source_run = graft.pretrain("builtin:mlp", shifted_source, out=tmp_path / "pre", epochs=3, **QUIET)
    assert source_run.metrics["strategy"] == "finetune"
    assert source_run.config["strategy_options"]["lp_init"] is False
    assert source_run.metrics["test_accuracy"] > 0.8
    target_run = graft.fit(f"run:{tmp_path / 'pre'}", f"npz:{blobs_npz}", "linear-probe", out=tmp_path / "ft", **QUIET)
    pre = source_run.model.backbone.state_dict()
    assert all(torch.equal(pre[k], v) for k, v in target_run.model.backbone.state_dict().items())
    assert target_run.metrics["test_accuracy"] > 0.8
    with pytest.raises(SpecError, match="Unknown pretraining method 'supervise'. Did you mean 'supervised'"):
        graft.pretrain("builtin:mlp", shifted_source, method="supervise")


def test_compare_writes_one_row_per_strategy_and_seed(tmp_path: Path, blobs_source: DataSource) -> None:
    results = graft.compare("builtin:mlp", blobs_source, ["scratch", "linear-probe"], seeds=[0], out=tmp_path,
                            epochs=2, **QUIET)
    assert isinstance(results, pd.DataFrame)
    assert sorted(results["strategy"]) == ["linear-probe", "scratch"]
    table = pd.read_csv(tmp_path / "results.csv")
    assert len(table) == 2 and {"test_accuracy", "seed", "strategy"} <= set(table.columns)
    assert (tmp_path / "summary.md").read_text().strip()
    with pytest.raises(SpecError, match="Did you mean 'scratch'"):
        graft.compare("builtin:mlp", blobs_source, ["scrach"], seeds=[0], out=tmp_path / "bad")


def test_run_files_are_readable_like_any_written_file(finished_run: Path, tmp_path: Path) -> None:
    import os
    import stat

    (tmp_path / "plain.txt").write_text("x")
    expected = stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode)
    for name in ("metrics.json", "config.yaml", "history.csv", "report.md", "model/model.safetensors"):
        assert stat.S_IMODE(os.stat(finished_run / name).st_mode) == expected, name


def test_reported_val_accuracy_is_the_selected_heads(tmp_path: Path, make_blobs: Callable) -> None:
    x, y = make_blobs(n_per_class=30, noise=1.5, spread=1.5, seed=2)
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(6, 32), nn.ReLU())  # a fixed backbone: the run is deterministic
    run = graft.fit(backbone, (x, y), "linear-probe", out=tmp_path, val_fraction=0.3, **QUIET)
    accuracies = [row["val_accuracy"] for row in run.history]
    assert len(set(accuracies)) > 1  # the C grid matters on this data
    assert run.metrics["val_accuracy"] == pytest.approx(max(accuracies))


def test_same_seed_reproduces_a_run_whatever_the_global_rng(tmp_path: Path, blobs_source: DataSource) -> None:
    states = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # e.g. another run earlier in the same process (graft compare)
        run = graft.fit("builtin:mlp", blobs_source, "linear-probe", out=tmp_path / str(global_seed), seed=0, **QUIET)
        states.append(run.model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_overwrite_replaces_the_whole_run(tmp_path: Path, blobs_npz: Path) -> None:
    graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=tmp_path, epochs=1, **QUIET)
    assert (tmp_path / "logs").exists()
    graft.fit("builtin:mlp", f"npz:{blobs_npz}", "linear-probe", out=tmp_path, overwrite=True, **QUIET)
    assert not (tmp_path / "logs").exists()


def test_resume_an_interrupted_fit_equals_the_uninterrupted_fit(tmp_path: Path, blobs_npz: Path,
                                                                fit_interrupted: Callable[..., None]) -> None:
    options = {"epochs": 4, "lr": 1e-2, "batch_size": 16, "checkpoint_every": 0, **QUIET}
    full = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=tmp_path / "full", **options)
    cut = tmp_path / "cut"
    fit_interrupted("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=cut, **options)
    assert (cut / "checkpoints" / "last.ckpt").is_file() and not (cut / "metrics.json").exists()

    resumed = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=cut, resume=True, **options)
    assert not (cut / "checkpoints").exists()
    for key in ("test_accuracy", "test_macro_f1", "val_accuracy", "epochs_run", "selected_epoch"):
        assert resumed.metrics[key] == full.metrics[key], key
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    drop = ("seconds",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in resumed.history] == \
        [{k: v for k, v in r.items() if k not in drop} for r in full.history]


def test_val_accuracy_of_a_kept_starting_model_is_an_accuracy(blobs_npz: Path, tmp_path: Path) -> None:
    # lr ~0: no epoch improves on the probe-fitted start, which stays selected (epoch 0);
    # with --monitor val_loss the reported val_accuracy must still be an accuracy.
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "finetune", out=tmp_path / "r", epochs=2, lr=1e-12,
                    monitor="val_loss", progress=False)
    m = run.metrics
    assert m["selected_epoch"] == 0
    assert m["val_accuracy"] == pytest.approx(1.0)  # three well-separated blobs


def test_a_default_warmup_as_long_as_the_run_is_shortened_with_a_note(tmp_path: Path, blobs_npz: Path) -> None:
    from graft.notes import GraftNote

    with pytest.warns(GraftNote, match=r"default warm-up \(2 epochs\) is not shorter than --epochs 2"):
        run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="finetune", epochs=2, out=tmp_path,
                        progress=False)
    assert run.config["train"]["warmup_epochs"] == 0.2
    header = (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "epoch" and header[-1] == "seconds" and header.index("train_loss") < header.index("val_loss")


def test_the_default_strategy_depends_on_pretrained_weights(tmp_path: Path, blobs_npz: Path) -> None:
    from graft.api import default_strategy

    assert default_strategy("builtin:mlp") == default_strategy("builtin:lenet") == "scratch"
    assert default_strategy("builtin:efficientnet-lite0") == default_strategy("run:x") == "finetune"
    assert default_strategy("timm:resnet18", {"pretrained": "false"}) == "scratch"
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", out=tmp_path, epochs=2, progress=False)
    assert run.metrics["strategy"] == "scratch"


def test_the_oracle_curve_scores_the_test_split_each_epoch_and_selects_nothing(tmp_path: Path,
                                                                               blobs_npz: Path) -> None:
    options = {"epochs": 3, "lr": 1e-2, "batch_size": 16, **QUIET}
    plain = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "finetune", out=tmp_path / "plain", **options)
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "finetune", out=tmp_path / "oracle", oracle_curve=True,
                    **options)
    curve = [row["oracle_test_accuracy"] for row in run.history]
    assert len(curve) == 4 and all(0 <= a <= 1 for a in curve)  # the probe start and three epochs
    assert run.metrics["oracle_test_accuracy"] == max(curve) and run.metrics["oracle_epoch"] in range(4)
    assert run.metrics["selected_epoch"] == plain.metrics["selected_epoch"]
    assert run.metrics["test_accuracy"] == plain.metrics["test_accuracy"]
    assert "oracle_test_accuracy" not in plain.history[-1]


def test_the_strategy_given_twice_is_refused() -> None:
    import numpy as np

    from graft.errors import ConfigError

    with pytest.raises(ConfigError, match="strategy twice"):
        graft.fit("builtin:mlp", np.zeros((10, 2)), "finetune", strategy="scratch")


def test_compare_gives_a_strategy_entry_options_of_its_own(tmp_path: Path, blobs_source: DataSource) -> None:
    results = graft.compare("builtin:mlp", blobs_source, ["scratch", "scratch:label-smoothing=0.2"], seeds=[0],
                            out=tmp_path, epochs=2, **{"label-smoothing": 0.0}, **QUIET)  # the entry's wins
    assert list(results["strategy"]) == ["scratch", "scratch:label-smoothing=0.2"]
    runs = {Path(d).name: Path(d) for d in results["run_dir"]}
    assert set(runs) == {"mlp-scratch-s0", "mlp-scratch+label-smoothing=0.2-s0"}
    smoothing = {name: yaml.safe_load((d / "config.yaml").read_text())["strategy_options"]["label_smoothing"]
                 for name, d in runs.items()}
    assert smoothing == {"mlp-scratch-s0": 0.0, "mlp-scratch+label-smoothing=0.2-s0": 0.2}  # its own only
    with pytest.raises(ConfigError, match="NAME:OPTION=VALUE"):
        graft.compare("builtin:mlp", blobs_source, ["scratch:label-smoothing"], seeds=[0], out=tmp_path / "bad")
    with pytest.raises(ConfigError, match="Did you mean 'label-smoothing'"):  # a typo, refused before any run
        graft.compare("builtin:mlp", blobs_source, ["scratch", "scratch:label-smothing=0.2"], seeds=[0],
                      out=tmp_path / "typo")
    assert not (tmp_path / "typo" / "runs").exists()
