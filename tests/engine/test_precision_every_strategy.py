"""--precision bf16-mixed and 64-true train every registered strategy on the CPU (tiny model, tiny data)."""

from __future__ import annotations

from pathlib import Path

import pytest

import graft
from tests.engine.every_strategy import TRAINED, blobs, strategy_kwargs


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bf16") / "base"
    graft.fit("builtin:mlp", blobs(), "scratch", out=out, epochs=20, lr=1e-2, progress=False, mlp_width=16)
    return out


@pytest.mark.parametrize("precision", ["bf16-mixed", "64-true"])
@pytest.mark.parametrize("name", TRAINED)
def test_every_strategy_trains_at_each_precision_on_cpu(name: str, precision: str, base_run: Path,
                                                        tmp_path: Path) -> None:
    kw = {"precision": precision, "accelerator": "cpu", "progress": False, "epochs": 5, "lr": 1e-2,
          "batch_size": 16, "out": tmp_path / name, **strategy_kwargs(name, base_run)}
    run = graft.fit(f"run:{base_run}", blobs(), name, **kw)
    assert run.metrics["test_accuracy"] > 0.6, (name, run.metrics["test_accuracy"])  # chance is 1/3
    assert (tmp_path / name / "model" / "model.safetensors").is_file()
