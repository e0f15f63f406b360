"""Every foundation strategy on text: scratch, linear-probe (cached embeddings), finetune; DA on text."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import graft
from graft.engine.features import _CACHE, clear_feature_cache


@pytest.mark.parametrize("strategy", ["scratch", "linear-probe", "finetune"])
def test_text_strategies_learn_sentiment(strategy: str, tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    options = {"progress": False, "text_column": "review"}
    if strategy != "linear-probe":  # the probe does not train in the engine's loop: it refuses these
        # scratch: 12 epochs reach 0.82–0.90 over seeds 0–2 (8 epochs: 0.75–0.90 on the CPU, 0.70 on a GPU)
        options.update(epochs=12 if strategy == "scratch" else 8, batch_size=16, lr=5e-3)
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", strategy, out=tmp_path / strategy, **options)
    assert run.metrics["test_accuracy"] > 0.7, run.metrics


def test_scratch_on_text_reinitialises_the_encoder(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    from graft.models import DataInfo, build_model
    from graft.strategies.scratch import reinitialise

    model = build_model(f"hf:{tiny_bert}", DataInfo(kind="text", num_classes=2, classes=["a", "b"]))
    before = model.backbone.model.embeddings.word_embeddings.weight.clone()
    torch.manual_seed(1)
    reinitialise(model)
    after = model.backbone.model.embeddings.word_embeddings.weight
    assert not torch.equal(before, after)
    assert after.std() < 0.1  # BERT's own init (std 0.02), not nn.Embedding's N(0, 1)


def test_probe_caches_text_embeddings(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    clear_feature_cache()
    kw = {"text_column": "review", "progress": False}
    graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "linear-probe", out=tmp_path / "a", **kw)
    n = len(_CACHE)
    graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "linear-probe", out=tmp_path / "b", seed=1, **kw)
    assert n >= 1 and len(_CACHE) <= n + 1  # the second run reuses most cached embeddings


@pytest.mark.parametrize("strategy", ["source-only", "dann", "cdan", "dan", "coral", "mcc", "self-training"])
def test_domain_adaptation_runs_on_text(strategy: str, tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}?domain=book", strategy,
                    source=f"csv:{sentiment_csv}?domain=movie", text_column="review", out=tmp_path / strategy,
                    epochs=3, batch_size=16, progress=False, shift_report=strategy == "dann")
    m = run.metrics
    assert m["selected_by"] == "im" and 0 <= m["test_accuracy"] <= 1 and "oracle_test_accuracy" in m
    if strategy == "dann":  # the domain-shift report works on text embeddings too
        assert 0 <= m["shift_before_proxy_a_distance"] <= 2
        assert (tmp_path / strategy / "plots" / "tsne_after.png").exists()
    if strategy == "coral":  # the relative gap does not vanish on small sentence features (the paper's did: ~1e-5)
        import pandas as pd

        history = pd.read_csv(tmp_path / strategy / "history.csv")
        assert history["train_transfer_loss"].dropna().mean() > 1e-3
    # a text encoder adapts with AdamW, the encoder at 0.05 of the head's rate (b5r: SGD left it untrained)
    train = run.config["train"]
    assert (train["optimizer"], train["lr"], train["weight_decay"]) == ("adamw", 1e-3, 1e-3)
    assert m["backbone_lr_scale"] == 0.05


def test_text_adaptation_defaults_yield_to_the_users_options(tiny_bert: Path, sentiment_csv: Path,
                                                             tmp_path: Path) -> None:
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}?domain=book", "source-only",
                    source=f"csv:{sentiment_csv}?domain=movie", text_column="review", out=tmp_path / "r",
                    epochs=2, batch_size=16, progress=False, shift_report=False, optimizer="sgd", lr=0.05,
                    backbone_lr_scale=0.5)
    train = run.config["train"]
    assert (train["optimizer"], train["lr"], train["weight_decay"]) == ("sgd", 0.05, 1e-3)
    assert run.metrics["backbone_lr_scale"] == 0.5


def test_auto_adapts_text_without_target_labels_with_mcc(tiny_bert: Path, sentiment_csv: Path,
                                                         tmp_path: Path) -> None:
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}?domain=book", "auto",
                    source=f"csv:{sentiment_csv}?domain=movie", text_column="review", out=tmp_path / "auto",
                    epochs=3, batch_size=16, progress=False, shift_report=False)
    m = run.metrics
    assert m["auto_strategy"] == "mcc" and m["strategy"] == "mcc"
    assert m["auto_rule"] == "text without target labels: mcc on top of the source model"
    assert "b5r" in (tmp_path / "auto" / "auto.md").read_text()
    assert "selection_note" in m  # the source-only start competed: kept unless im showed a gain


def test_on_text_dann_learns_the_source_longer_and_mcc_keeps_its_own(tiny_bert: Path, sentiment_csv: Path,
                                                                      tmp_path: Path) -> None:
    from graft.notes import GraftNote

    common = {"source": f"csv:{sentiment_csv}?domain=movie", "text_column": "review", "epochs": 6,
              "batch_size": 16, "progress": False, "shift_report": False}
    target = f"csv:{sentiment_csv}?domain=book"
    with pytest.warns(GraftNote, match="dann learns a text source for 4 warm-start epochs"):
        dann = graft.fit(f"hf:{tiny_bert}", target, "dann", out=tmp_path / "dann", **common)
    assert dann.metrics["warm_start"] == 4 and dann.metrics["epochs_run"] == 2
    assert "started from a 4-epoch warm start)" in dann.metrics["selection_note"]
    assert dann.metrics["warm_start_schedule"] == "restart"  # a fresh optimizer for the adaptation, the default
    mcc = graft.fit(f"hf:{tiny_bert}", target, "mcc", out=tmp_path / "mcc", **common)
    assert mcc.metrics["warm_start"] == 3  # its own 5, at most half of --epochs
    short = graft.fit(f"hf:{tiny_bert}", target, "dann", out=tmp_path / "short", **{**common, "epochs": 3})
    assert short.metrics["warm_start"] == 1  # at most --epochs − 2


def test_a_text_warm_start_cut_short_says_how_many_epochs_it_leaves() -> None:
    from graft.notes import GraftNote
    from graft.strategies.dann import Dann

    with pytest.warns(GraftNote, match=r"more than all but 2 of --epochs 5; 3 warm-start epoch\(s\) run instead"):
        assert Dann().resolve_warm_start(5, "text") == 3
    assert Dann().resolve_warm_start(6, "image") == 2  # images keep the default
