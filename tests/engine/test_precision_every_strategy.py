"""--precision bf16-mixed trains every registered strategy on the CPU (tiny model, tiny data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graft
from graft.data import from_arrays
from graft.strategies import STRATEGIES

_RNG = np.random.default_rng(0)
_CENTRES = _RNG.normal(size=(3, 6)) * 3
_Y = np.repeat(np.arange(3), 40)
_X = (_CENTRES[_Y] + _RNG.normal(size=(120, 6))).astype(np.float32)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bf16") / "base"
    graft.fit("builtin:mlp", from_arrays(_X, _Y, name="blobs"), "scratch", out=out, epochs=20, lr=1e-2, progress=False,
              mlp_width=16)
    return out


@pytest.mark.parametrize("name", [n for n in STRATEGIES if n != "linear-probe"])  # the probe has no loop
def test_bf16_mixed_trains_every_strategy_on_cpu(name: str, base_run: Path, tmp_path: Path) -> None:
    cls = STRATEGIES.get(name)
    kw: dict = {"precision": "bf16-mixed", "accelerator": "cpu", "progress": False, "epochs": 5, "lr": 1e-2,
                "batch_size": 16, "out": tmp_path / name}
    if "source" in cls.needs:
        kw["source"] = from_arrays(_X + 0.3, _Y, name="shifted")
    if "teacher" in cls.needs:
        kw["teacher"] = f"run:{base_run}"
    if "target" in cls.needs:
        kw["shift_report"] = False
    elif "unlabeled" in cls.needs or "source" in cls.needs or name == "contrastive":
        kw["labels_per_class"] = 10
    if name == "prune":
        kw["prune_ratio"] = 0.3
    run = graft.fit(f"run:{base_run}", from_arrays(_X, _Y, name="blobs"), name, **kw)
    assert run.metrics["test_accuracy"] > 0.6, (name, run.metrics["test_accuracy"])  # chance is 1/3
    assert (tmp_path / name / "model" / "model.safetensors").is_file()
