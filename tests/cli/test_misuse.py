"""Misuse through the CLI ends in one ``error:`` line with a fix, exit 2, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import assert_user_error


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["label"] = data.target
    path = tmp_path_factory.mktemp("iris") / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def _fix_line(code: int, out: str, err: str, *needles: str) -> str:
    line = assert_user_error(code, out, err, *needles)
    assert "Fix:" in line, line
    return line


def test_a_seed_out_of_range_or_repeated_is_refused_before_a_run_starts(graft_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                        iris_csv: Path) -> None:
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "-s", "scratch", "--seed", "-1",
                         "--out", tmp_path / "a"), "--seed", "-1")
    assert not (tmp_path / "a").exists()
    _fix_line(*graft_cli("-q", "compare", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--strategies", "scratch",
                         "--seeds", "0,0", "--out", tmp_path / "c"), "seed 0 twice")
    _fix_line(*graft_cli("-q", "compare", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--strategies", "",
                         "--out", tmp_path / "c"), "--strategies")
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("command", [
    ("compare", "--strategies", "scratch", "--seeds", "0"),
    ("rank",),
    ("shift", "--source", "DATA"),
])
def test_an_output_folder_that_is_a_file_is_refused(graft_cli, tmp_path: Path, iris_csv: Path,  # type: ignore[no-untyped-def]
                                                    command: tuple[str, ...]) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    args = [a.replace("DATA", f"csv:{iris_csv}") for a in command]
    _fix_line(*graft_cli("-q", args[0], "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", *args[1:],
                         "--out", existing), "is a file")
    assert existing.read_text() == "mine"


def test_predict_and_export_never_replace_a_users_other_file(graft_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                             finished_run: Path, blobs_npz: Path) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    _fix_line(*graft_cli("predict", "--run", finished_run, "-d", f"npz:{blobs_npz}", "--out", existing), "not a CSV")
    _fix_line(*graft_cli("export", "--run", finished_run, "--out", existing), ".onnx")
    assert existing.read_text() == "mine"
    _fix_line(*graft_cli("export", "--run", finished_run, "--format", "torchscript", "--opset", "12",
                         "--out", tmp_path / "m.pt"), "--opset", "torchscript")
    code, _, err = graft_cli("predict", "--run", finished_run, "-d", f"npz:{blobs_npz}",
                               "--out", tmp_path / "p.csv")
    assert code == 0, err
    code, _, err = graft_cli("predict", "--run", finished_run, "-d", f"npz:{blobs_npz}",
                               "--out", tmp_path / "p.csv")  # its own earlier predictions: replaced
    assert code == 0, err


def test_a_named_label_column_the_data_lacks_is_refused(graft_cli, tmp_path: Path, iris_csv: Path) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    code, _, err = graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "-s", "scratch",
                             "--epochs", "2", "--out", run)
    assert code == 0, err
    _fix_line(*graft_cli("predict", "--run", run, "-d", f"csv:{iris_csv}", "--label-column", "nope",
                         "--out", tmp_path / "p.csv"), "'nope'")
    assert not (tmp_path / "p.csv").exists()
    unlabeled = tmp_path / "x.csv"
    pd.read_csv(iris_csv).drop(columns="label").to_csv(unlabeled, index=False)
    code, _, err = graft_cli("predict", "--run", run, "-d", f"csv:{unlabeled}", "--out", tmp_path / "q.csv")
    assert code == 0, err


def test_a_pull_toward_pretrained_weights_needs_pretrained_weights(graft_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                  iris_csv: Path) -> None:
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "-s", "l2sp",
                         "--out", tmp_path / "a"), "'builtin:mlp' has random", "scratch")


def test_a_monitor_typo_is_refused_before_training_and_a_late_one_leaves_no_run(graft_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                               blobs_npz: Path) -> None:
    base = ["-q", "fit", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "-s", "scratch", "--epochs", "1"]
    _fix_line(*graft_cli(*base, "--monitor", "nope", "--out", tmp_path / "a"), "'nope'", "val_accuracy", "im")
    assert not (tmp_path / "a").exists()
    _fix_line(*graft_cli(*base, "--monitor", "val_nope", "--out", tmp_path / "b"), "val_nope", "val_accuracy")
    assert not (tmp_path / "b").exists()  # created by the run, removed with it


@pytest.mark.parametrize("argv, needle", [
    (("predict", "--run", "r", "-d", "npz:x", "--batch-size", "0"), "--batch-size"),
    (("predict", "--run", "r"), "--data"),
    (("fitt",), "Did you mean 'fit'?"),
    (("list", "extra"), "extra"),
])
def test_parser_errors_are_one_line_with_a_fix(graft_cli, argv: tuple[str, ...], needle: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = graft_cli(*argv)
    line = _fix_line(code, out, err, needle)
    assert "--help" in line and "Usage:" not in err


def test_model_options_after_a_question_mark_are_shown_as_flags(graft_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                iris_csv: Path) -> None:
    line = _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp?mlp_width=8", "-d", f"csv:{iris_csv}",
                                "--out", tmp_path / "a"), "graft rank")
    assert "--model builtin:mlp --mlp-width 8" in line


def test_a_table_that_is_not_utf8_says_so(graft_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "latin1.csv"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=20), "city": ["Málaga", "Köln"] * 10, "label": [0, 1] * 10})
    frame.to_csv(path, index=False, encoding="latin1")
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{path}", "--out", tmp_path / "a"),
              "not UTF-8")


def test_an_unknown_strategy_in_compare_names_the_fix(graft_cli, tmp_path: Path, iris_csv: Path) -> None:  # type: ignore[no-untyped-def]
    _fix_line(*graft_cli("-q", "compare", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--strategies",
                         "scratch,nope", "--out", tmp_path / "c"), "Unknown strategy 'nope'")


def test_a_folder_for_a_table_run_is_refused_before_its_images_are_read(graft_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                       finished_run: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"not an image")  # reading it would fail with another message
    _fix_line(*graft_cli("predict", "--run", finished_run, "-d", f"folder:{folder}", "--out", tmp_path / "p.csv"),
              "holds image data", "table data")


@pytest.mark.filterwarnings("always::graft.notes.GraftNote")  # the suite ignores UserWarning
def test_notes_about_a_run_that_never_starts_are_not_said(graft_cli, tmp_path: Path, iris_csv: Path) -> None:  # type: ignore[no-untyped-def]
    # --epochs 1 makes the default warm-up note; said once the run starts
    code, _, err = graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "-s", "scratch",
                             "--epochs", "1", "--out", tmp_path / "b")
    assert code == 0 and "note: The strategy's default warm-up" in err
    # the same note, then the model/data mismatch found after it: only the mistake is said
    code, out, err = graft_cli("-q", "fit", "-m", "builtin:lenet", "-d", f"csv:{iris_csv}", "-s", "scratch",
                               "--epochs", "1", "--out", tmp_path / "a")
    _fix_line(code, out, err, "takes image input")
    assert "note:" not in err and len(err.strip().splitlines()) == 1


def test_binary_or_mistyped_inputs_are_user_errors(graft_cli, tmp_path: Path, iris_csv: Path,  # type: ignore[no-untyped-def]
                                                   finished_run: Path, blobs_npz: Path) -> None:
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes([0xFF, 0xFE, 0xE1, 0x00, 0x80]) * 10)
    fit = ["-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--epochs", "1"]
    _fix_line(*graft_cli(*fit, "--config", binary, "--out", tmp_path / "a"), "not a UTF-8 text file")
    strategy_int = tmp_path / "c.yaml"
    strategy_int.write_text("strategy: 5\n")
    _fix_line(*graft_cli(*fit, "--config", strategy_int, "--out", tmp_path / "a"), "Unknown strategy '5'")
    _fix_line(*graft_cli("rank", "--models-file", binary, "-d", f"csv:{iris_csv}", "--out", tmp_path / "r"),
              "not a UTF-8 text file")
    corrupt = tmp_path / "export" / "model.onnx"
    code, _, err = graft_cli("export", "--run", finished_run, "--out", corrupt)
    assert code == 0, err
    corrupt.write_bytes(b"not a protobuf")  # its sidecar stays
    _fix_line(*graft_cli("predict", "--run", corrupt, "-d", f"npz:{blobs_npz}", "--out", tmp_path / "p.csv"),
              "cannot load")
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    _fix_line(*graft_cli("-q", "tune", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "-s", "scratch", "--trials", "1",
                         "--out", existing), "is a file")
    assert not (tmp_path / "a").exists() and existing.read_text() == "mine"


def test_second_audit_cases(graft_cli, tmp_path: Path, iris_csv: Path, finished_run: Path) -> None:  # type: ignore[no-untyped-def]
    fit = ["-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--epochs", "1"]
    _fix_line(*graft_cli(*fit, "--optimizer", "adam", "--out", tmp_path / "a"), "Did you mean 'adamw'?")
    _fix_line(*graft_cli(*fit, "--config", tmp_path, "--out", tmp_path / "a"), "is a folder")
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp?widht=3", "-d", f"csv:{iris_csv}", "--out", tmp_path / "a"),
              "Unknown option 'widht'", "mlp-width")
    _fix_line(*graft_cli("shift", "-m", "builtin:mlp", "--source", f"csv:{iris_csv}", "-d", f"csv:{iris_csv}",
                         "--out", finished_run), "finished graft run")
    texts = tmp_path / "t.csv"
    pd.DataFrame({"review": ["good", "bad"] * 10, "label": ["pos", "neg"] * 10}).to_csv(texts, index=False)
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:minilm", "-d", f"csv:{texts}", "--text-column", "label",
                         "--out", tmp_path / "a"), "would read the answer")
    tiny = tmp_path / "tiny.csv"
    frame = pd.read_csv(iris_csv)
    pd.concat([frame[frame.label < 2], frame[frame.label == 2].head(2)]).to_csv(tiny, index=False)
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{tiny}", "--folds", "2",
                         "--out", tmp_path / "a"), "at least 2 examples of every class")
    assert not (tmp_path / "a").exists()
    code, _, err = graft_cli()
    assert code == 0 and "error" not in err  # no command: the help is the answer


def test_a_continuous_label_is_named_as_such(graft_cli, tmp_path: Path, iris_csv: Path) -> None:  # type: ignore[no-untyped-def]
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--label-column", "sepal_width",
                         "--out", tmp_path / "a"), "look continuous", "qcut")


def test_a_space_given_twice_is_refused(graft_cli, tmp_path: Path, iris_csv: Path) -> None:  # type: ignore[no-untyped-def]
    _fix_line(*graft_cli("-q", "tune", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "-s", "scratch", "--trials", "1",
                         "--space", "lr=1e-4:1e-2", "--space", "lr=1e-3:1e-1", "--out", tmp_path / "t"), "'lr' twice")
    assert not (tmp_path / "t").exists()


def test_numbers_saved_as_text_train_and_predict_as_numbers(graft_cli, tmp_path: Path, iris_csv: Path) -> None:  # type: ignore[no-untyped-def]
    frame = pd.read_csv(iris_csv)
    x = frame.drop(columns="label").to_numpy().astype(str)  # np.savez of a string array
    np.savez(tmp_path / "s.npz", X=x, y=frame["label"].to_numpy())
    code, _, err = graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"npz:{tmp_path / 's.npz'}", "-s", "scratch",
                             "--out", tmp_path / "run")
    assert code == 0, err
    schema = (tmp_path / "run" / "model" / "schema.json").read_text()
    assert schema.count('"kind": "numeric"') == 4 and '"kind": "categorical"' not in schema, schema
    np.savez(tmp_path / "u.npz", X=x)
    code, _, err = graft_cli("predict", "--run", tmp_path / "run", "-d", f"npz:{tmp_path / 'u.npz'}",
                             "--out", tmp_path / "p.csv")
    assert code == 0, err


@pytest.mark.filterwarnings("always::graft.notes.GraftNote")  # the suite ignores UserWarning
def test_rows_without_a_label_are_named(graft_cli, tmp_path: Path, iris_csv: Path) -> None:  # type: ignore[no-untyped-def]
    frame = pd.read_csv(iris_csv)
    frame.loc[::10, "label"] = np.nan
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    code, _, err = graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{tmp_path / 'gaps.csv'}", "-s", "scratch",
                             "--epochs", "1", "--out", tmp_path / "a")
    assert code == 0 and "15 row(s)" in err and "semi-supervised" in err, err


def test_a_nested_config_section_that_is_not_a_mapping(graft_cli, tmp_path: Path, iris_csv: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "c.yaml"
    config.write_text("train: 5\n")
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--config", config,
                         "--out", tmp_path / "a"), "'train' must be a mapping")


def test_an_option_written_twice_in_a_config_file_is_refused(graft_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                              iris_csv: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("epochs: 3\nlr: 0.1\nepochs: 5\n")
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--config", config,
                         "--out", tmp_path / "a"), "'epochs' is written twice (lines 1 and 3)")
    config.write_text("train:\n  epochs: 3\nstrategy_options:\n  epochs: 4\n")
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--config", config,
                         "--out", tmp_path / "a"), "'epochs' is given twice", "3 and 4")
    assert not (tmp_path / "a").exists()


def test_a_file_that_is_not_an_npz_archive_says_what_it_is(graft_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "t.npz").write_text("a,b\n1,2\n")
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"npz:{tmp_path / 't.npz'}",
                         "--out", tmp_path / "a"), "is a text file", "np.savez")
    with open(tmp_path / "one.npz", "wb") as handle:
        np.save(handle, np.zeros((4, 3)))
    _fix_line(*graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"npz:{tmp_path / 'one.npz'}",
                         "--out", tmp_path / "a"), "single .npy array")


@pytest.mark.filterwarnings("always::graft.notes.GraftNote")  # the suite ignores UserWarning
def test_filled_and_unused_feature_columns_are_noted_at_fit(graft_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            iris_csv: Path) -> None:
    frame = pd.read_csv(iris_csv)
    frame["row_id"] = [f"r{i}" for i in range(len(frame))]
    frame.loc[::7, "petal_width"] = np.inf
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    code, _, err = graft_cli("-q", "fit", "-m", "builtin:mlp", "-d", f"csv:{tmp_path / 'gaps.csv'}", "-s", "scratch",
                             "--epochs", "1", "--out", tmp_path / "a")
    assert code == 0, err
    assert "not used: 'row_id'" in err and "'petal_width' (" in err and "training median" in err, err


def test_a_strategy_entry_with_an_option_but_no_value_names_the_form(graft_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                     iris_csv: Path) -> None:
    _fix_line(*graft_cli("-q", "compare", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--strategies",
                         "scratch,scratch:label-smoothing", "--out", tmp_path / "c"), "NAME:OPTION=VALUE")
    _fix_line(*graft_cli("-q", "compare", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--strategies",
                         "scratch:label-smothing=0.1", "--out", tmp_path / "c"), "label-smoothing")
    _fix_line(*graft_cli("-q", "compare", "-m", "builtin:mlp", "-d", f"csv:{iris_csv}", "--strategies",
                         "auto:epochs=2", "--out", tmp_path / "c"), "takes no options", "Got 'auto:epochs=2'")
    assert not (tmp_path / "c").exists()


def test_target_val_misuse_is_one_line(graft_cli, tmp_path: Path, iris_csv: Path) -> None:  # type: ignore[no-untyped-def]
    unlabeled = tmp_path / "unlabeled.csv"
    pd.read_csv(iris_csv).drop(columns="label").to_csv(unlabeled, index=False)
    run = ("-q", "fit", "-m", "builtin:mlp", "--source", f"csv:{iris_csv}", "-s", "dann", "--out", tmp_path / "r")
    _fix_line(*graft_cli(*run, "-d", f"csv:{unlabeled}", "--target-val", "3"), "--target-val 3", "has no labels")
    _fix_line(*graft_cli(*run, "-d", f"csv:{iris_csv}", "--target-val", "40"), "--target-val 40",
              "Allowed: 1..25")
    _fix_line(*graft_cli(*run, "-d", f"csv:{iris_csv}", "--target-val", "-1"), "--target-val", "-1")
    assert not (tmp_path / "r").exists()
