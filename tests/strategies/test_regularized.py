"""l2sp, delta and bss: they learn; L2-SP keeps the backbone nearer its starting weights, DELTA its features."""

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


def _feature_gap(run: graft.run.Run, start_run: Path, data) -> float:  # type: ignore[name-defined,no-untyped-def]
    start = graft.load_run(start_run).model.backbone
    x = torch.as_tensor(run.schema.apply(data).x, dtype=torch.float32)  # the columns as the run encodes them
    with torch.no_grad():
        return float((run.model.backbone.eval()(x) - start.eval()(x)).pow(2).mean())


def test_delta_keeps_the_features_nearer_the_pretrained_ones(finished_run: Path, shifted_source,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    plain = graft.fit(f"run:{finished_run}", shifted_source, strategy="finetune", out=tmp_path / "ft", **QUIET)
    held = graft.fit(f"run:{finished_run}", shifted_source, strategy="delta", alpha=1.0, out=tmp_path / "d",
                     **QUIET)
    assert held.metrics["test_accuracy"] > 0.6
    assert all(row["train_delta"] >= 0 for row in held.history if "train_delta" in row)
    assert _feature_gap(held, finished_run, shifted_source) < 0.5 * _feature_gap(plain, finished_run, shifted_source)


def test_channel_attention_favours_the_channels_the_loss_needs() -> None:
    from graft.losses import attentive_feature_distance, channel_attention

    w = channel_attention(torch.tensor([0.5, 0.0, 0.0, -0.1]))
    assert w[0] > w[1] == w[2] > w[3] and abs(float(w.sum()) - 4) < 1e-5
    a, a0 = torch.ones(2, 4, 3), torch.zeros(2, 4, 3)  # [B, T, C] of a transformer: channels last
    assert float(attentive_feature_distance([a], [a0], [torch.tensor([1.0, 1.0, 0.0])])) == 2.0


def test_delta_on_a_text_encoder(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "delta", text_column="review", out=tmp_path / "t",
                    epochs=4, batch_size=16, lr=5e-3, progress=False)
    assert run.metrics["test_accuracy"] > 0.7 and "train_delta" in run.history[-1]


def test_anchoring_to_random_weights_is_refused(blobs_npz: Path, tmp_path: Path) -> None:
    import pytest

    from graft.errors import ConfigError

    for name in ("l2sp", "delta"):
        with pytest.raises(ConfigError, match=f"'{name}' strategy pulls the model toward its pretrained.*--no-pretrained"):
            graft.fit("builtin:lenet", f"npz:{blobs_npz}", name, pretrained=False, out=tmp_path / name,
                      progress=False)
