"""On a CUDA GPU (skipped without one): every trained strategy trains there in bf16-mixed, comes back on
the CPU, and a run trained there predicts the same on the GPU and on the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import graft
from tests.engine.every_strategy import TRAINED, X, blobs, strategy_kwargs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gpu") / "base"
    graft.fit("builtin:mlp", blobs(), "scratch", out=out, epochs=20, lr=1e-2, progress=False, mlp_width=16,
              accelerator="cuda")
    return out


@pytest.mark.parametrize("name", TRAINED)
def test_every_strategy_trains_on_the_gpu_in_bf16(name: str, base_run: Path, tmp_path: Path) -> None:
    kw = {"precision": "bf16-mixed", "accelerator": "cuda", "progress": False, "epochs": 5, "lr": 1e-2,
          "batch_size": 16, "out": tmp_path / name, **strategy_kwargs(name, base_run)}
    run = graft.fit(f"run:{base_run}", blobs(), name, **kw)
    assert run.metrics["test_accuracy"] > 0.6, (name, run.metrics["test_accuracy"])  # chance is 1/3
    assert next(run.model.parameters()).device.type == "cpu"  # handed back, its GPU memory freed
    frame = run.predict(X, device="cuda")
    assert next(run.model.parameters()).device.type == "cuda"
    assert (frame["prediction"].to_numpy() >= 0).all() and len(frame) == len(X)


def test_a_gpu_trained_run_predicts_the_same_after_loading_on_the_cpu(base_run: Path, tmp_path: Path) -> None:
    run = graft.fit(f"run:{base_run}", blobs(), "finetune", out=tmp_path / "ft", epochs=3, progress=False,
                    accelerator="cuda")
    on_fit = run.predict(X, device="cuda")
    loaded = graft.load_run(tmp_path / "ft").predict(X)
    assert next(graft.load_run(tmp_path / "ft").model.parameters()).device.type == "cpu"
    assert (on_fit["prediction"].to_numpy() == loaded["prediction"].to_numpy()).all()
    p_cols = [c for c in on_fit.columns if c.startswith("p_")]
    np.testing.assert_allclose(on_fit[p_cols].to_numpy(), loaded[p_cols].to_numpy(), atol=1e-4)


def test_graft_predict_puts_a_run_on_the_gpu_and_predicts_as_on_the_cpu(base_run: Path) -> None:
    from graft.deploy.predict import predictor

    on_gpu, _ = predictor(base_run, device="cuda")
    on_cpu, _ = predictor(base_run, device="cpu")
    assert next(on_gpu.model.parameters()).device.type == "cuda"
    a, b = on_gpu.predict(X), on_cpu.predict(X)
    assert (a["prediction"].to_numpy() == b["prediction"].to_numpy()).all()


def test_a_run_with_test_time_views_predicts_on_the_gpu(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    x = (rng.uniform(size=(40, 16, 16, 1)) * 0.5 + y[:, None, None, None] * 0.5).astype(np.float32)
    run = graft.fit("builtin:lenet", (x, y), "scratch", out=tmp_path / "tta", epochs=2, tta=2, tta_check=False,
                    accelerator="cuda", progress=False)
    assert run.metrics["tta_used"] == 2
    on_gpu = run.predict(x, device="cuda")
    on_cpu = run.predict(x, device="cpu")
    assert (on_gpu["prediction"].to_numpy() == on_cpu["prediction"].to_numpy()).all()
