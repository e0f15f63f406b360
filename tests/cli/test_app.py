"""The ``graft`` command line: listing, fit, predict, and one-line errors for user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from graft.cli import app as cli
from graft.cli.extra_args import parse_extra_args, parse_int_list, parse_k_list
from graft.errors import ConfigError
from tests.conftest import assert_user_error


def test_list_shows_strategies_models_and_data(graft_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = graft_cli("list")
    assert code == 0
    for name in ("finetune", "linear-probe", "scratch", "builtin:mlp", "builtin:lenet", "builtin:digits",
                 "builtin:mnist5k", "npz:PATH"):
        assert name in out


def test_list_options_of_a_strategy(graft_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = graft_cli("list", "--options", "finetune")
    assert code == 0
    assert "--layer-decay" in out and "--unfreeze-at" in out and "--epochs" in out
    code, out, _ = graft_cli("list", "--options", "linear-probe")
    assert code == 0 and "--head" in out
    assert_user_error(*graft_cli("list", "--options", "finetun"), "Did you mean 'finetune'?")


def test_list_options_also_shows_data_and_model_options(graft_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = graft_cli("list", "--options", "finetune")
    assert code == 0
    for option in ("--test-fraction", "--val-fraction", "--split-seed", "--image-size", "--pretrained", "--arch"):
        assert option in out, option


def test_fit_then_predict(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    out_dir = tmp_path / "run"
    code, out, err = graft_cli("fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", "scratch",
                               "--out", out_dir, "--epochs", "2", "--lr", "1e-2", "--no-progress")
    assert code == 0, err
    assert "test_accuracy" in out and "epochs_run" in out and str(out_dir) in out
    assert (out_dir / "metrics.json").is_file()

    csv = tmp_path / "pred.csv"
    code, out, err = graft_cli("predict", "--run", out_dir, "-d", f"npz:{blobs_npz}", "--out", csv)
    assert code == 0, err
    frame = pd.read_csv(csv)
    assert len(frame) == 90
    assert {"index", "prediction", "confidence", "p_0", "p_1", "p_2", "label"} <= set(frame.columns)
    assert "Wrote 90 predictions" in out and "accuracy" in out


def test_fit_options_reach_the_strategy(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    code, _, err = graft_cli("fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", "finetune",
                             "--out", tmp_path, "--epochs=1", "--layer-decay", "0.5", "--no-lp-init",
                             "--trainable", "last-1", "--progress", "false")
    assert code == 0, err
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["strategy_options"]["layer_decay"] == 0.5
    assert config["strategy_options"]["lp_init"] is False
    assert config["strategy_options"]["trainable"] == "last-1"
    assert config["train"]["epochs"] == 1


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["-m", "builtin:nope"], ["Unknown built-in model 'nope'"]),
        (["-m", "mlp"], ["Did you mean 'builtin:mlp'?"]),
        (["-m", "tim:resnet18"], ["Unknown model scheme 'tim'", "Did you mean 'timm'?"]),
        (["-d", "npz:/no/such/file.npz"], ["/no/such/file.npz"]),
        (["-d", "/no/such/folder"], ["does not exist"]),
        (["-s", "fine-tune"], ["Unknown strategy 'fine-tune'", "Did you mean 'finetune'?"]),
        (["-k", "1000"], ["--labels-per-class 1000 is larger than the smallest class", "Allowed: 1.."]),
        (["--epochs", "abc"], ["'--epochs' option of the engine must be of type int", "Got 'abc'",
                               "Fix: pass e.g. --epochs"]),
        (["--epochs", "0"], ["'--epochs' option of the engine must be >= 1. Got 0 instead."]),
        (["--layer-decy", "0.5"], ["Unknown option 'layer-decy'", "Did you mean 'layer-decay'?"]),
        (["--schedule", "cosin"], ["Did you mean 'cosine'?"]),
        (["--layer-decay", "2"], ["'--layer-decay' option of strategy 'finetune' must be in (0, 1]"]),
        (["--trainable", "top-1"], ["'all' or 'last-N'"]),
        (["stray"], ["Unexpected argument 'stray'"]),
    ],
)
def test_user_mistakes_exit_2_with_one_error_line(graft_cli, tmp_path: Path, blobs_npz: Path,  # type: ignore[no-untyped-def]
                                                  args: list[str], needles: list[str]) -> None:
    base = {"-m": "builtin:mlp", "-d": f"npz:{blobs_npz}", "-s": "finetune"}
    given = dict(zip(args[::2], args[1::2])) if args[0].startswith("-") else {}
    argv = ["fit"]
    for flag, value in base.items():
        argv += [flag, given.pop(flag, value)]
    argv += ["--out", str(tmp_path / "run"), "--no-progress", "--epochs", "1"]
    argv += [a for pair in given.items() for a in pair] if args[0].startswith("-") else args
    assert_user_error(*graft_cli(*argv), *needles)


def test_resume_without_checkpoint_exits_2(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = graft_cli("fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", "scratch",
                               "--out", tmp_path / "fresh", "--resume", "--no-progress")
    assert_user_error(code, out, err, "--resume", "checkpoint", "Fix:")


def test_a_finished_run_is_protected(graft_cli, finished_run: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = graft_cli("fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", "scratch",
                               "--out", finished_run, "--no-progress")
    assert_user_error(code, out, err, "already holds a finished run", "--overwrite")


def test_out_that_is_a_file_is_a_user_error(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    a_file = tmp_path / "results.csv"
    a_file.write_text("keep me")
    code, out, err = graft_cli("fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", "scratch",
                               "--out", a_file, "--epochs", "1", "--no-progress")
    assert a_file.read_text() == "keep me"
    assert_user_error(code, out, err, str(a_file))


def test_predict_with_a_missing_run_exits_2(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    assert_user_error(*graft_cli("predict", "--run", tmp_path / "nothing", "-d", f"npz:{blobs_npz}",
                                  "--out", tmp_path / "p.csv"), "not a graft run directory")
    assert not (tmp_path / "p.csv").exists()


def test_ctrl_c_says_how_to_resume(graft_cli, monkeypatch: pytest.MonkeyPatch, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    import graft.api

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(graft.api, "fit", interrupted)
    code, out, err = graft_cli("fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}")
    assert code == 130
    assert "--resume" in err and "Traceback" not in out + err


def test_unknown_monitor_is_a_user_error(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = graft_cli("fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", "scratch",
                               "--out", tmp_path, "--epochs", "1", "--monitor", "val_acc", "--no-progress")
    assert_user_error(code, out, err, "val_acc", "val_accuracy")


def test_parse_extra_args_forms() -> None:
    assert parse_extra_args(["--lr", "1e-3", "--no-lp-init", "--head=svm", "--freeze-bn", "--lr-min", "-1"]) == {
        "lr": "1e-3", "lp_init": "false", "head": "svm", "freeze_bn": "true", "lr_min": "-1"}
    with pytest.raises(ConfigError, match="Unexpected argument 'x'"):
        parse_extra_args(["x"])
    assert parse_int_list("0, 1,2", "--seeds") == [0, 1, 2]
    with pytest.raises(ConfigError, match="--seeds"):
        parse_int_list("a,b", "--seeds")
    assert parse_k_list("5,10,all") == [5, 10, None] and parse_k_list(None) is None
    with pytest.raises(ConfigError, match="positive integers or 'all'"):
        parse_k_list("0")


def test_a_kept_starting_model_is_explained(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = graft_cli("fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", "finetune",
                               "--out", tmp_path, "--epochs", "2", "--start-margin-se", "1e9", "--no-progress")
    assert code == 0, err
    assert "the starting model" in out
    assert json.loads((tmp_path / "metrics.json").read_text())["selected_epoch"] == 0


# --- options declared once: validation, listing, help ---------------------------------------------


def _fit_argv(tmp_path: Path, blobs_npz: Path, strategy: str, *extra: str) -> list[str]:
    return ["fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", strategy, "--out", str(tmp_path / "run"),
            "--no-progress", *extra]


@pytest.mark.parametrize(
    ("strategy", "args", "needles"),
    [
        ("linear-probe", ["--C", "-1"], ["The '--C' option of strategy 'linear-probe' must be > 0. Got -1.0 instead.",
                                         "Fix: pass e.g. --C 1, or leave it out to pick C on validation."]),
        ("scratch", ["--label-smoothing", "2"], ["'--label-smoothing'", "must be in [0, 1)", "Got 2.0"]),
        ("finetune", ["--label-smoothing", "2"], ["'--label-smoothing' option of strategy 'finetune'", "[0, 1)"]),
        ("linear-probe", ["--head", "mlp", "--mlp-hidden", "0"], ["'--mlp-hidden'", "must be >= 1", "Got 0"]),
        ("linear-probe", ["--max-iter", "0"], ["'--max-iter'", "must be >= 1", "Fix: pass e.g. --max-iter 300"]),
        ("linear-probe", ["--head", "lgoreg"], ["one of torch, logreg, svm, mlp", "Did you mean 'logreg'?"]),
        ("scratch", ["--image-size", "0"], ["'--image-size'", "must be >= 1. Got 0", "leave it out"]),
        ("scratch", ["--image-size", "-5"], ["'--image-size'", "must be >= 1. Got -5"]),
        ("scratch", ["--epochs", "0"], ["'--epochs' option of the engine must be >= 1"]),
        ("scratch", ["--batch-size", "0"], ["'--batch-size' option of the engine must be >= 1"]),
        ("scratch", ["--lr", "-1"], ["'--lr' option of the engine must be > 0. Got -1.0", "Fix: pass e.g. --lr"]),
        ("scratch", ["--val-fraction", "1.5"], ["'--val-fraction'", "must be in [0, 1). Got 1.5"]),
        ("scratch", ["--test-fraction", "0"], ["'--test-fraction'", "must be in (0, 1). Got 0"]),
        ("scratch", ["--mlp-width", "0"], ["'--mlp-width'", "must be >= 1"]),
        ("scratch", ["--mlp-depth", "0"], ["'--mlp-depth'", "must be >= 1"]),
        ("scratch", ["--mlp-dropout", "1"], ["'--mlp-dropout'", "must be in [0, 1)"]),
        ("lora", ["--lora-r", "0"], ["'--lora-r' option of strategy 'lora' must be >= 1"]),
        ("lora", ["--lora-dropout", "1.5"], ["'--lora-dropout'", "must be in [0, 1). Got 1.5"]),
        ("self-training", ["--threshold", "2"], ["'--threshold' option of strategy 'self-training'", "[0, 1]"]),
        ("mcc", ["--temperature", "0"], ["'--temperature' option of strategy 'mcc' must be > 0"]),
        ("dann", ["--trade-off", "-1"], ["'--trade-off' option of strategy 'dann' must be >= 0"]),
        ("dann", ["--select-by", "sdn"], ["'--select-by'", "Did you mean 'snd'?"]),
        ("finetune", ["--schedule", "cosin"], ["'--schedule' option of the engine", "Did you mean 'cosine'?"]),
        ("finetune", ["--warmup-epochs", "5", "--epochs", "3"],
         ["'--warmup-epochs'", "shorter than --epochs (3)", "Fix:"]),
        ("linear-probe", ["--lr", "0.1", "--epochs", "5"],
         ["--epochs, --lr do not apply to strategy 'linear-probe'", "--head, --C, --max-iter, --mlp-hidden",
          "Fix: drop --epochs, --lr"]),
        ("finetune", ["--lables-per-class", "5"], ["Unknown option 'lables-per-class'",
                                                   "Did you mean 'labels-per-class'?"]),
    ],
)
def test_declared_rules_refuse_bad_values_before_any_work(  # type: ignore[no-untyped-def]
    graft_cli, tmp_path: Path, blobs_npz: Path, strategy: str, args: list[str], needles: list[str]
) -> None:
    code, out, err = graft_cli(*_fit_argv(tmp_path, blobs_npz, strategy, *args))
    assert_user_error(code, out, err, *needles)
    assert not (tmp_path / "run").exists()  # refused before any data was loaded or directory written


def test_a_probe_with_its_own_options_runs(graft_cli, tmp_path: Path, blobs_npz: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = graft_cli(*_fit_argv(tmp_path, blobs_npz, "linear-probe", "--C", "1", "--max-iter", "50"))
    assert code == 0, err
    report = (tmp_path / "run" / "report.md").read_text()
    assert "C values tried: 1" in report and "chosen: C=1" in report


def test_list_options_shows_type_default_range_and_help(graft_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(cli.out_console, "width", 250)  # one line per option, whatever the terminal
    code, out, _ = graft_cli("list", "--options", "finetune")
    assert code == 0
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 2}
    assert "float or none" in lines["--layer-decay"] and "in (0, 1]" in lines["--layer-decay"]
    assert "Layer-wise LR decay" in lines["--layer-decay"] and "0.8" in lines["--layer-decay"]
    assert "'all' or 'last-N'" in lines["--trainable"]
    # the engine's defaults as finetune sets them, with the engine's ranges
    assert "int" in lines["--epochs"] and ">= 1" in lines["--epochs"] and "Passes over" in lines["--epochs"]
    assert " 0.05 " in lines["--weight-decay"] and " 2 " in lines["--warmup-epochs"]
    assert "mean, cls" in lines["--pooling"] and " 256 " in lines["--mlp-width"]


def test_list_options_says_what_a_probe_refuses(graft_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = graft_cli("list", "--options", "linear-probe")
    assert code == 0 and "refused" in out and "--warmup-epochs" in out


@pytest.mark.parametrize("command", ["fit", "compare", "pretrain"])
def test_help_lists_the_generated_options(graft_cli, command: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = graft_cli(command, "--help")
    assert code == 0
    for needle in ("Engine options", "--warmup-epochs FLOAT", "Linear warm-up length", "Data and model options",
                   "--image-size INT|NONE", "--mlp-width INT", "--no-progress", "graft list --options STRATEGY"):
        assert needle in out, needle


def test_help_leaves_out_a_generated_option_the_command_owns(graft_cli) -> None:  # type: ignore[no-untyped-def]
    # rank's own --batch-size (feature extraction) takes the flag; the engine's is not offered as well
    code, out, _ = graft_cli("rank", "--help")
    assert code == 0 and "Examples per forward pass" in out
    assert "--batch-size INT" not in out and "Not listed: --batch-size" in out
    assert "--epochs INT" in out


def test_version(graft_cli) -> None:  # type: ignore[no-untyped-def]
    from graft import __version__

    code, out, _ = graft_cli("--version")
    assert code == 0 and out.strip() == f"graft {__version__}"


@pytest.mark.parametrize("flag", ["--quiet", "-q"])
def test_quiet_turns_progress_off(graft_cli, monkeypatch: pytest.MonkeyPatch, flag: str) -> None:  # type: ignore[no-untyped-def]
    import graft.api

    seen: dict[str, object] = {}

    def fake_fit(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise KeyboardInterrupt  # stop before printing a run

    monkeypatch.setattr(graft.api, "fit", fake_fit)
    graft_cli(flag, "fit", "-m", "builtin:mlp", "-d", "npz:x.npz", "-s", "scratch", "--epochs", "1")
    assert seen["progress"] == "false" and seen["epochs"] == "1"
    seen.clear()
    graft_cli("fit", "-m", "builtin:mlp", "-d", "npz:x.npz", "-s", "scratch")
    assert "progress" not in seen
