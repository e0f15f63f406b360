"""Prediction through onnxruntime gives the torch path's predictions.csv, and its runtime
module needs neither torch nor graft's model code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graft.cli.app import main


def _run(argv: list[str]) -> int:
    try:
        main([str(a) for a in argv])
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


@pytest.mark.parametrize("kind", ["table", "array", "image", "image-tta", "text"])
def test_onnx_predictions_equal_the_torch_path(run_copy, runs, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    run_dir, data = run_copy(kind), runs[kind][1]
    extra = ["--text-column", "review"] if kind == "text" else []
    # PyTorch on the CPU, as onnxruntime is (a GPU's TF32 convolutions differ by ~1e-4: tests/engine/test_gpu.py)
    assert _run(["predict", "--run", run_dir, "--data", data, "--device", "cpu", "--out", tmp_path / "torch.csv",
                 *extra]) == 0
    assert _run(["predict", "--run", run_dir, "--data", data, "--engine", "onnx", "--out", tmp_path / "onnx.csv",
                 *extra]) == 0
    exported = run_dir / "export" / "model.onnx"
    assert exported.is_file()  # --engine onnx on a run exported it first
    assert _run(["predict", "--run", exported, "--data", data, "--out", tmp_path / "file.csv", *extra]) == 0
    torch_csv, onnx_csv, file_csv = (pd.read_csv(tmp_path / f) for f in ("torch.csv", "onnx.csv", "file.csv"))
    probs = [c for c in torch_csv if c.startswith("p_")]
    assert list(onnx_csv.columns) == list(torch_csv.columns) and len(torch_csv) > 5
    same = [c for c in torch_csv if c not in probs and c != "confidence"]
    pd.testing.assert_frame_equal(onnx_csv[same], torch_csv[same])
    np.testing.assert_allclose(onnx_csv[[*probs, "confidence"]], torch_csv[[*probs, "confidence"]], atol=1e-5)
    pd.testing.assert_frame_equal(file_csv, onnx_csv)
    if kind.startswith("image"):
        assert torch_csv["path"].str.endswith(".png").all()  # 32x32 RGB files, resized to LeNet's 28x28 grey


def test_a_stale_export_is_redone_for_engine_onnx(run_copy, runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from graft.deploy.exported import onnx_for_run
    from graft.deploy.sidecar import sidecar_path

    run_dir = run_copy("array")
    first = onnx_for_run(run_dir)
    side = sidecar_path(first.path)
    meta = json.loads(side.read_text())
    true_hash = meta["weights_sha256"]
    side.write_text(json.dumps({**meta, "weights_sha256": "0" * 64}))  # as if the run were retrained since
    with pytest.warns(UserWarning, match="exported .* for --engine onnx"):
        again = onnx_for_run(run_dir)
    assert again.meta["weights_sha256"] == true_hash


def test_the_runtime_module_loads_without_torch(runs) -> None:  # type: ignore[no-untyped-def]
    import graft

    path = graft.export(runs["array"][0], out=Path(runs["array"][0]).parent / "shipped" / "mlp.onnx").path
    code = (
        "import sys, numpy as np\n"
        "from graft.deploy.onnx_session import OnnxClassifier\n"
        f"logits = OnnxClassifier({str(path)!r}).logits(np.zeros((4, 6), dtype=np.float32))\n"
        "assert logits.shape == (4, 3), logits.shape\n"
        "heavy = sorted(m for m in ('torch', 'graft.models', 'graft.engine', 'graft.strategies') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
