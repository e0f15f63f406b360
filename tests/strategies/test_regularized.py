"""l2sp and bss: they learn, and L2-SP keeps the backbone nearer its starting weights."""

from __future__ import annotations

from pathlib import Path

import torch

import graft

QUIET = {"epochs": 6, "lr": 1e-2, "batch_size": 16, "progress": False, "lp_init": False, "layer_decay": None}


def _distance(run: graft.run.Run, start: dict[str, torch.Tensor]) -> float:  # type: ignore[name-defined]
    state = run.model.backbone.state_dict()
    return float(sum((state[k] - start[k]).pow(2).sum() for k in start if start[k].is_floating_point()))


def test_l2sp_stays_nearer_the_pretrained_weights_than_finetune(finished_run: Path, shifted_source,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    start = {k: v.clone() for k, v in graft.load_run(finished_run).model.backbone.state_dict().items()}
    plain = graft.fit(f"run:{finished_run}", shifted_source, strategy="finetune", out=tmp_path / "ft", **QUIET)
    held = graft.fit(f"run:{finished_run}", shifted_source, strategy="l2sp", alpha=10.0, out=tmp_path / "sp",
                     **QUIET)
    assert held.metrics["test_accuracy"] > 0.6
    assert _distance(held, start) < 0.5 * _distance(plain, start)
    assert "train_l2sp" in held.history[-1] and held.config["train"]["weight_decay"] == 0.0


def test_bss_learns_and_logs_its_penalty(finished_run: Path, shifted_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = graft.fit(f"run:{finished_run}", shifted_source, strategy="bss", bss_weight=0.1, out=tmp_path / "b",
                    **QUIET)
    assert run.metrics["test_accuracy"] > 0.6
    assert all(row["train_bss"] >= 0 for row in run.history if "train_bss" in row)
