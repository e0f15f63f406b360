"""``graft predict`` through the CLI: unlabeled data, --out as a folder, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from graft.cli.app import main


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    frame = pd.DataFrame({"a": y + rng.normal(0, 0.2, 80), "b": rng.normal(0, 1, 80),
                          "kind": np.where(y == 1, "x", "y"), "label": np.where(y == 1, "yes", "no")})
    root = tmp_path_factory.mktemp("cli")
    frame.to_csv(root / "t.csv", index=False)
    assert _run(["--quiet", "fit", "--model", "builtin:mlp", "--data", f"csv:{root / 't.csv'}", "--strategy",
                 "scratch", "--epochs", "5", "--out", str(root / "run")]) == 0
    return root / "run", root / "t.csv"


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def test_predict_unlabeled_csv_into_a_folder(csv_run: tuple[Path, Path], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run, table = csv_run
    pd.read_csv(table).drop(columns=["label"])[["kind", "b", "a"]].to_csv(tmp_path / "new.csv", index=False)
    (tmp_path / "out").mkdir()
    assert _run(["predict", "--run", str(run), "--data", f"csv:{tmp_path / 'new.csv'}", "--out", str(tmp_path / "out")]) == 0
    written = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert len(written) == 80 and set(written["prediction"]) <= {"yes", "no"} and "label" not in written
    assert _run(["predict", "--run", str(run), "--data", f"csv:{table}", "--out", str(tmp_path / "p.csv")]) == 0
    assert "accuracy against the data's labels" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "p.csv")["prediction"].tolist() == written["prediction"].tolist()


@pytest.mark.parametrize(
    ("drop", "data", "message"),
    [
        (["label", "kind"], "csv", "lacks the feature column(s) 'kind' the model was trained on"),
        ([], "folder", "holds image data, but the model was trained on table data"),  # before reading it
        ([], "missing", "does not exist"),
    ],
)
def test_predict_mistakes_are_one_line(csv_run: tuple[Path, Path], tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                       drop: list[str], data: str, message: str) -> None:
    run, table = csv_run
    if data == "csv":
        pd.read_csv(table).drop(columns=drop).to_csv(tmp_path / "bad.csv", index=False)
        spec = f"csv:{tmp_path / 'bad.csv'}"
    elif data == "folder":
        (tmp_path / "empty").mkdir()
        spec = f"folder:{tmp_path / 'empty'}"
    else:
        spec = f"csv:{tmp_path / 'nope.csv'}"
    assert _run(["predict", "--run", str(run), "--data", spec, "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is there to predict on")
@pytest.mark.parametrize(("device", "message"), [
    ("cuda", "--device cuda needs a GPU, but PyTorch sees none"),
    ("gpu", "Allowed: auto, cpu, cuda. Fix: pass --device auto."),
])
def test_predict_device_mistakes_are_one_line(csv_run: tuple[Path, Path], tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                              device: str, message: str) -> None:
    run, table = csv_run
    assert _run(["predict", "--run", str(run), "--data", f"csv:{table}", "--device", device,
                 "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p.csv").exists()
    # --device cpu predicts as the default does
    assert _run(["predict", "--run", str(run), "--data", f"csv:{table}", "--device", "cpu",
                 "--out", str(tmp_path / "cpu.csv")]) == 0
    assert _run(["predict", "--run", str(run), "--data", f"csv:{table}", "--out", str(tmp_path / "auto.csv")]) == 0
    assert pd.read_csv(tmp_path / "cpu.csv").equals(pd.read_csv(tmp_path / "auto.csv"))


def test_predict_images_with_a_table_run_says_what_kind_it_takes(csv_run: tuple[Path, Path], tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                 capsys) -> None:
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "imgs" / "a.png")
    assert _run(["predict", "--run", str(csv_run[0]), "--data", f"folder:{tmp_path / 'imgs'}"]) == 2
    assert "holds image data, but the model was trained on table data" in capsys.readouterr().err


def test_predict_never_overwrites_the_runs_files_and_a_trailing_slash_makes_a_folder(
        csv_run: tuple[Path, Path], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run, table = csv_run
    before = (run / "metrics.json").read_text()
    assert _run(["predict", "--run", str(run), "--data", f"csv:{table}", "--out", str(run / "metrics.json")]) == 2
    assert "never overwrites a run's files" in capsys.readouterr().err and (run / "metrics.json").read_text() == before
    assert _run(["predict", "--run", str(run), "--data", f"csv:{table}", "--out", str(tmp_path / "new") + "/"]) == 0
    assert (tmp_path / "new" / "predictions.csv").is_file()


def test_a_damaged_run_is_one_line(csv_run: tuple[Path, Path], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import shutil

    run, table = csv_run
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "model" / "schema.json").write_text("{}")
    assert _run(["predict", "--run", str(copy), "--data", f"csv:{table}", "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert "is damaged" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_fit_refuses_a_folder_of_other_files_as_out(csv_run: tuple[Path, Path], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    assert _run(["-q", "fit", "--model", "builtin:mlp", "--data", f"csv:{csv_run[1]}", "--epochs", "1",
                 "--out", str(tmp_path / "mine")]) == 2
    assert "not a graft run" in capsys.readouterr().err and sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_default_run_directories_never_collide(tmp_path: Path) -> None:
    from graft.run_dir import default_run_dir

    first = default_run_dir("scratch", "builtin:mlp", "arrays", 0, root=tmp_path)
    first.mkdir(parents=True)
    second = default_run_dir("scratch", "builtin:mlp", "arrays", 0, root=tmp_path)
    assert second != first and (second.name.endswith("-2") or second.name[-6:] != first.name[-6:])
