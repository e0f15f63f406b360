"""prune: a really smaller network (widths, MACs), reloaded without pickle, predicting the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import graft
from graft.data import from_arrays, load_source
from graft.errors import ConfigError


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    digits = load_source("builtin:digits")
    keep = np.arange(500)
    data = from_arrays(digits.x[keep], np.asarray(digits.y)[keep], name="digits500")
    out = tmp_path_factory.mktemp("prune") / "lenet"
    graft.fit("builtin:lenet", data, "scratch", out=out, epochs=5, progress=False)
    return out, data


def test_prune_to_half_the_macs_shrinks_the_network_and_reloads_without_pickle(digits_run, tmp_path: Path) -> None:
    run_dir, data = digits_run
    run = graft.fit(f"run:{run_dir}", data, "prune", out=tmp_path / "p", target_macs=0.5, epochs=2, prune_steps=2,
                    progress=False)
    m = run.metrics
    assert m["macs"] <= 0.52 * m["unpruned_macs"] and m["params"] < m["unpruned_params"]
    assert run.model.backbone.conv1.out_channels < 20  # LeNet's first layer had 20 channels
    assert m["test_accuracy"] > 0.6 and "unpruned_test_accuracy" in m and "unpruned_latency_ms_b32" in m
    recipe = (tmp_path / "p" / "model" / "model.json").read_text()
    assert '"pruned"' in recipe and not list((tmp_path / "p").rglob("*.pt*"))  # widths as JSON, no pickle
    loaded = graft.load_run(tmp_path / "p")
    x = torch.randn(3, 1, 28, 28)
    run.model.eval()
    loaded.model.eval()
    assert torch.allclose(run.model(x), loaded.model(x), atol=1e-5)
    # A pruned run is a model like any other: fine-tuned again, it keeps its widths when saved and reloaded.
    again = graft.fit(f"run:{tmp_path / 'p'}", data, "finetune", out=tmp_path / "ft", epochs=1, progress=False)
    assert graft.load_run(tmp_path / "ft").model.backbone.conv1.out_channels == again.model.backbone.conv1.out_channels


def test_prune_a_table_mlp_by_ratio_and_predict_unlabeled_rows(finished_run: Path, blobs_npz: Path,
                                                               tmp_path: Path) -> None:
    run = graft.fit(f"run:{finished_run}", f"npz:{blobs_npz}", "prune", out=tmp_path / "m", prune_ratio=0.5,
                    epochs=3, lr=1e-2, importance="magnitude", progress=False)
    widths = [lin.out_features for lin in run.model.backbone.modules() if isinstance(lin, torch.nn.Linear)]
    before = [lin.out_features for lin in graft.load_run(finished_run).model.backbone.modules()
              if isinstance(lin, torch.nn.Linear)]
    assert all(w <= b // 2 + 1 for w, b in zip(widths, before))
    x = np.load(blobs_npz)["X"]
    first = run.predict(x)
    again = graft.load_run(tmp_path / "m").predict(x)
    assert (first["prediction"] == again["prediction"]).all()
    assert (first["prediction"].astype(str) == pd.Series(np.load(blobs_npz)["y"]).astype(str)).mean() > 0.8


def test_prune_a_transformer_removes_feed_forward_neurons_only(tiny_bert: Path, sentiment_csv: Path,
                                                               tmp_path: Path) -> None:
    kw = {"text_column": "review", "progress": False, "batch_size": 16}
    graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "scratch", out=tmp_path / "t", epochs=4, lr=5e-3, **kw)
    run = graft.fit(f"run:{tmp_path / 't'}", f"csv:{sentiment_csv}", "prune", out=tmp_path / "p", prune_ratio=0.5,
                    epochs=1, prune_steps=1, **kw)
    layer = run.model.backbone.model.encoder.layer[0]
    assert layer.intermediate.dense.out_features == 16 and layer.output.dense.in_features == 16  # 32 before
    assert layer.attention.self.query.out_features == 16  # attention and the hidden width are kept
    loaded = graft.load_run(tmp_path / "p")
    texts = ["movie good great", "book bad awful"]
    assert (run.predict(texts)["prediction"] == loaded.predict(texts)["prediction"]).all()


def test_taylor_importance_reads_the_average_gradient_of_the_fine_tuning_batches() -> None:
    from graft.strategies.prune import GradientAverage

    lin = torch.nn.Linear(2, 1, bias=False)
    grads = GradientAverage(lin)
    with grads.collecting():
        for scale in (1.0, 3.0):
            (lin(torch.tensor([[scale, 0.0]])).sum()).backward()
    grads.install_average()
    assert grads.seen == 2 and torch.allclose(lin.weight.grad, torch.tensor([[2.0, 0.0]]))


def test_prune_mistakes_are_refused_before_the_run_directory(digits_run, graft_cli, tmp_path: Path) -> None:
    run_dir, _ = digits_run
    base = ["fit", "--model", f"run:{run_dir}", "--data", "builtin:digits", "--strategy", "prune",
            "--out", str(tmp_path / "x")]
    code, _, err = graft_cli(*base, "--target-macs", "0.001")
    assert code == 2 and "below what pruning can reach" in err and "Allowed:" in err and "Traceback" not in err
    code, _, err = graft_cli(*base, "--target-macs", "0.5", "--prune-ratio", "0.3")
    assert code == 2 and "both set the amount of pruning" in err
    assert not (tmp_path / "x").exists()
    with pytest.raises(ConfigError, match="prune-ratio"):
        graft.fit(f"run:{run_dir}", "builtin:digits", "prune", prune_ratio=0.95, progress=False)


def test_an_interrupted_prune_resumes_with_the_pruned_widths(finished_run: Path, blobs_npz: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from graft.engine import trainer as trainer_module

    options = {"prune_ratio": 0.5, "prune_steps": 2, "recovery_epochs": 1, "epochs": 4, "lr": 1e-2,
               "checkpoint_every": 0, "progress": False}
    full = graft.fit(f"run:{finished_run}", f"npz:{blobs_npz}", "prune", out=tmp_path / "full", **options)
    real_end_epoch = trainer_module.EpochProgress.end_epoch
    calls = []

    def ctrl_c_in_the_final_recovery(self: object, epoch: int, row: dict) -> None:
        calls.append(epoch)
        if len(calls) == 3:  # one recovery epoch between the two steps, then final epochs 1, 2
            raise KeyboardInterrupt
        real_end_epoch(self, epoch, row)  # type: ignore[arg-type]

    monkeypatch.setattr(trainer_module.EpochProgress, "end_epoch", ctrl_c_in_the_final_recovery)
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        graft.fit(f"run:{finished_run}", f"npz:{blobs_npz}", "prune", out=cut, **options)
    monkeypatch.undo()
    assert (cut / "checkpoints" / "pruned" / "model.json").is_file()
    resumed = graft.fit(f"run:{finished_run}", f"npz:{blobs_npz}", "prune", out=cut, resume=True, **options)
    shapes = {k: tuple(v.shape) for k, v in resumed.model.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in full.model.state_dict().items()}
    assert resumed.metrics["test_accuracy"] == full.metrics["test_accuracy"]


def test_measuring_and_tracing_leave_batch_norm_statistics_alone() -> None:
    from graft.models import DataInfo, ModelOptions, build_model
    from graft.strategies.prune import Prune, PruneConfig, _pruner

    info = DataInfo(kind="image", num_classes=3, classes=["a", "b", "c"], channels=3, size=(16, 16))
    model = build_model("timm:resnet10t", info, ModelOptions(pretrained=False, image_size=16))
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    strategy = Prune(PruneConfig(target_macs=0.5))
    strategy.check(model, None)  # type: ignore[arg-type]  # counts MACs, bisects on copies
    _pruner(model, 0.2, strategy.config, steps=1)  # traces the real model
    after = model.state_dict()
    assert before and all(torch.equal(v, after[k]) for k, v in before.items())
    assert model.training  # the mode is restored
