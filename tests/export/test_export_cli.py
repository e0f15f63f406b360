"""``graft export`` and ``graft predict --engine`` through the CLI: what they print, and
each mistake as one line with exit code 2 and no traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from graft.cli.app import main
from graft.models.builtin import MLP


def _run(argv: list[object]) -> int:
    try:
        main([str(a) for a in argv])
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_export_prints_the_file_and_the_parity(run_copy, capsys) -> None:  # type: ignore[no-untyped-def]
    run_dir = run_copy("image")
    assert _run(["export", "--run", run_dir, "--format", "onnx", "--opset", 17]) == 0
    out = capsys.readouterr().out
    assert f"Exported onnx to {run_dir / 'export' / 'model.onnx'}" in out
    assert "batch 1, batch 3, batch 7: max |Δlogit| = " in out
    assert (run_dir / "export" / "model.onnx.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "onx"], "Unknown export format 'onx'. Did you mean 'onnx'? Allowed: onnx, torchscript."),
        (["--out", "{run}/metrics.json"], "points into the run directory's own files (metrics.json)"),
        (["--out", "{run}/model/"], "points into the run directory's own files (model/model.onnx)"),
        (["--out", "{run}/model/model.safetensors"], "(model/model.safetensors)"),
        (["--opset", "9"], "--opset must be an integer in 11..20. Got 9 instead."),
        (["--tolerance", "0"], "--tolerance must be a number in (0, 1)"),
    ],
)
def test_export_mistakes_are_one_line(run_copy, capsys, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    run_dir = run_copy("array")
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    argv = [a.replace("{run}", str(run_dir)) for a in args]
    assert _run(["export", "--run", run_dir, *argv]) == 2
    assert message in _one_line_error(capsys)
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before  # nothing written


def test_export_of_an_untraceable_forward_is_one_line(run_copy, capsys, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    run_dir = run_copy("array")
    monkeypatch.setattr(MLP, "forward", lambda self, x: torch.from_numpy(self.layers(x).detach().numpy().copy()))
    assert _run(["export", "--run", run_dir]) == 2
    err = _one_line_error(capsys)
    assert "The exported onnx file returns shape [2, 3] on batch 1" in err and "not traceable" in err


def test_missing_onnxruntime_is_one_line(run_copy, capsys, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    run_dir = run_copy("array")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    assert _run(["predict", "--run", run_dir, "--data", "npz:missing.npz", "--engine", "onnx"]) == 2
    err = _one_line_error(capsys)
    assert "graft predict --engine onnx needs the package onnxruntime, which is not installed" in err
    assert "Fix: pip install onnxruntime, or predict with --engine torch." in err
    assert _run(["export", "--run", run_dir]) == 2
    assert "graft export --format onnx (its parity check runs the graph) needs the package onnxruntime" in \
        _one_line_error(capsys)
    assert _run(["export", "--run", run_dir, "--format", "torchscript"]) == 0  # TorchScript does not need it


@pytest.mark.parametrize(
    ("engine", "target", "message"),
    [
        ("tf", "run", "Unknown engine 'tf'. Allowed: onnx, torch."),
        ("torch", "file", "is an exported file, and --engine torch runs a run directory's PyTorch model"),
        ("onnx", "pt", "is a torchscript export; --engine onnx runs ONNX files"),
        (None, "lonely", "has no sidecar 'lonely.onnx.json' next to it"),
    ],
)
def test_predict_engine_mistakes_are_one_line(run_copy, tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                              engine: str | None, target: str, message: str) -> None:
    run_dir = run_copy("array")
    assert _run(["export", "--run", run_dir]) == 0
    assert _run(["export", "--run", run_dir, "--format", "torchscript"]) == 0
    capsys.readouterr()
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes((run_dir / "export" / "model.onnx").read_bytes())
    path = {"run": run_dir, "file": run_dir / "export" / "model.onnx", "pt": run_dir / "export" / "model.pt",
            "lonely": lonely}[target]
    np.savez(tmp_path / "x.npz", X=np.zeros((3, 6), dtype=np.float32))
    argv = ["predict", "--run", path, "--data", f"npz:{tmp_path / 'x.npz'}", "--out", tmp_path / "p.csv"]
    assert _run(argv + (["--engine", engine] if engine else [])) == 2
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "p.csv").exists()
