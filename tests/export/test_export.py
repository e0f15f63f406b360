"""``graft.export``: ONNX and TorchScript files that compute what the PyTorch model computes
on other batch sizes, dynamic axes, and a sidecar that carries the run's schema."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import graft
from graft.deploy.sidecar import read_sidecar
from graft.errors import ExportError
from graft.models.builtin import MLP


@pytest.mark.parametrize("kind", ["table", "image", "text"])
def test_onnx_export_matches_pytorch_and_writes_the_sidecar(run_copy, kind: str) -> None:  # type: ignore[no-untyped-def]
    run_dir = run_copy(kind)
    result = graft.export(run_dir, format="onnx")
    assert result.path == run_dir / "export" / "model.onnx" and result.path.is_file()
    assert result.max_abs_diff <= 1e-4 and result.max_abs_diff <= result.limit and len(result.shapes) == 3
    assert all(s.startswith("batch ") and not s.startswith("batch 2") for s in result.shapes)  # not the traced shape
    meta = read_sidecar(result.path)
    saved = json.loads((run_dir / "model" / "schema.json").read_text())
    assert meta["schema"] == saved and meta["input"]["kind"] == saved["kind"]
    assert meta["classes"] == json.loads((run_dir / "model" / "model.json").read_text())["classes"]
    assert meta["parity"]["max_abs_diff"] == result.max_abs_diff and meta["opset"] == 18
    if kind == "image":
        assert meta["input"]["size"] == [28, 28] and meta["input"]["channels"] == 1
        assert meta["inputs"] == [{"name": "input", "dtype": "float32", "shape": ["batch", 1, 28, 28]}]
    if kind == "text":
        assert [i["name"] for i in meta["inputs"]] == ["input_ids", "attention_mask"]
        assert (result.path.parent / meta["input"]["tokenizer"] / "tokenizer_config.json").is_file()
        assert meta["input"]["max_length"] == 64 and meta["input"]["pad_id"] == 0
        assert all("tokens" in s for s in result.shapes)
    if kind == "table":
        assert meta["class_values"] == ["no", "yes"]
        assert any("one-hot" in step for step in meta["preprocessing"])


@pytest.mark.parametrize(("kind", "axes"), [("image", ["batch"]), ("text", ["batch", "sequence"])])
def test_onnx_inputs_have_dynamic_axes(run_copy, kind: str, axes: list[str]) -> None:  # type: ignore[no-untyped-def]
    import onnx

    graph = onnx.load(str(graft.export(run_copy(kind)).path)).graph
    for tensor in graph.input:
        dims = tensor.type.tensor_type.shape.dim
        assert [d.dim_param for d in dims if d.dim_param] == axes
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_onnx_runs_other_batch_sizes_like_pytorch(run_copy) -> None:  # type: ignore[no-untyped-def]
    from graft.deploy.onnx_session import OnnxClassifier

    run_dir = run_copy("image")
    path = graft.export(run_dir).path
    model = graft.load_run(run_dir).model.eval()
    session = OnnxClassifier(path)
    for batch in (1, 5, 64):
        x = torch.randn(batch, 1, 28, 28)
        with torch.no_grad():
            ref = model(x).numpy()
        assert np.abs(session.logits(x.numpy()) - ref).max() < 1e-4


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
@pytest.mark.parametrize("kind", ["array", "text"])
def test_torchscript_export_reloads_and_matches(run_copy, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    run_dir = run_copy(kind)
    result = graft.export(run_dir, format="torchscript", out=f"{tmp_path}/ship/")
    assert result.path == tmp_path / "ship" / "model.pt" and result.max_abs_diff <= result.limit
    assert read_sidecar(result.path)["export_format"] == "torchscript"
    module = torch.jit.load(str(result.path))
    model = graft.load_run(run_dir).model.eval()
    args = (torch.randn(9, 6),) if kind == "array" else \
        (torch.randint(0, 20, (4, 10)), torch.ones(4, 10, dtype=torch.long))
    with torch.no_grad():
        eager = model(args[0]) if kind == "array" else model({"input_ids": args[0], "attention_mask": args[1]})
        assert torch.allclose(module(*args), eager, atol=1e-5)


def _numpy_forward(self: MLP, x: torch.Tensor) -> torch.Tensor:
    # A forward that leaves torch for NumPy: a trace keeps the example's values as constants.
    return torch.from_numpy(np.tanh(self.layers(x).detach().numpy()))


def test_an_untraceable_forward_is_an_error_that_says_where(run_copy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    run_dir = run_copy("array")
    monkeypatch.setattr(MLP, "forward", _numpy_forward)
    with pytest.raises(ExportError) as err:
        graft.export(run_dir)
    message = str(err.value)
    assert "not traceable" in message and "test_export.py" in message and "NumPy" in message
    assert "Fix:" in message
    assert not (run_dir / "export" / "model.onnx").exists()  # nothing half-done is left
    assert [p.name for p in run_dir.rglob("*.tmp")] == []


def test_an_operator_onnx_lacks_is_an_error_with_its_name(run_copy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    run_dir = run_copy("array")
    monkeypatch.setattr(MLP, "forward", lambda self, x: torch.special.zeta(self.layers(x).abs() + 2, 2.0 + x[:, :1] ** 2))
    with pytest.raises(ExportError, match=r"tracing its forward failed \(.*aten::special_zeta.*\).*--format torchscript"):
        graft.export(run_dir)


def test_a_difference_beyond_the_tolerance_is_an_error_not_a_warning(run_copy) -> None:  # type: ignore[no-untyped-def]
    run_dir = run_copy("image")
    with pytest.raises(ExportError, match=r"disagrees with PyTorch on batch \d: max \|Δlogit\| = .*allowed <= .*--tolerance 1e-15"):
        graft.export(run_dir, tolerance=1e-15)
    assert not (run_dir / "export" / "model.onnx").exists() and not (run_dir / "export" / "model.onnx.json").exists()
