"""lora and ia3 (peft) on text and vision, the merge into plain weights, and --adapter on DA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

import graft
from graft.errors import ConfigError
from graft.models import DataInfo, build_model
from graft.models.adapters import AdapterOptions, add_adapter, merge_adapter

TEXT = {"epochs": 6, "batch_size": 16, "progress": False}


def _text_fit(tiny_bert: Path, csv: Path, strategy: str, out: Path, **options):
    return graft.fit(f"hf:{tiny_bert}", f"csv:{csv}?domain=movie", strategy, out=out, text_column="review",
                     **{**TEXT, **options})


@pytest.mark.parametrize("strategy", ["lora", "ia3"])
def test_adapter_trains_a_few_parameters_and_saves_a_plain_model(
    strategy: str, tiny_bert: Path, sentiment_csv: Path, tmp_path: Path
) -> None:
    run = _text_fit(tiny_bert, sentiment_csv, strategy, tmp_path / strategy, lr=1e-2, lora_r=2)
    m = run.metrics
    full = build_model(f"hf:{tiny_bert}", DataInfo(kind="text", num_classes=2, classes=["neg", "pos"]))
    assert m["total_params"] == sum(p.numel() for p in full.parameters())
    assert 0 < m["trainable_params"] < 0.5 * m["total_params"]
    assert m["peak_memory_mb"] > 0 and m["test_accuracy"] > 0.5
    with safe_open(str(tmp_path / strategy / "model" / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert not any("lora" in k or "ia3" in k or "base_model" in k for k in keys)
    assert set(keys) == set(full.state_dict())
    again = graft.load_run(tmp_path / strategy)  # no peft needed to rebuild
    preds = again.predict(f"csv:{sentiment_csv}?domain=movie", text_column="review")
    assert len(preds) == 60


def test_merged_model_computes_what_the_adapted_one_did(tiny_bert: Path) -> None:
    info = DataInfo(kind="text", num_classes=2, classes=["neg", "pos"])
    model = build_model(f"hf:{tiny_bert}", info).eval()
    add_adapter(model, AdapterOptions(adapter="lora", lora_r=2, lora_dropout=0.0))
    for name, p in model.backbone.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.5)  # a trained-looking, non-zero update
    x = {"input_ids": torch.randint(5, 20, (3, 7)), "attention_mask": torch.ones(3, 7, dtype=torch.long)}
    with torch.no_grad():
        before = model(x)
        assert merge_adapter(model)
        after = model(x)
    assert torch.allclose(before, after, atol=1e-5)
    assert not merge_adapter(model)  # nothing left to merge


def test_only_adapter_and_head_weights_change(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    info = DataInfo(kind="text", num_classes=2, classes=["neg", "pos"])
    start = build_model(f"hf:{tiny_bert}", info).state_dict()
    run = _text_fit(tiny_bert, sentiment_csv, "lora", tmp_path / "r", lr=3e-2, lp_init=False,
                    adapter_targets=("query", "value"))
    end = run.model.state_dict()
    changed = {k for k in start if k.startswith("backbone.") and not torch.equal(start[k], end[k])}
    assert changed and all(k.endswith(("query.weight", "value.weight")) for k in changed)


def test_adapter_targets_that_match_nothing(tiny_bert: Path) -> None:
    model = build_model(f"hf:{tiny_bert}", DataInfo(kind="text", num_classes=2, classes=["a", "b"]))
    with pytest.raises(ConfigError, match=r"--adapter-targets qkv match no linear .* Examples of names: "):
        add_adapter(model, AdapterOptions(adapter="lora", adapter_targets=("qkv",)))
    with pytest.raises(ConfigError, match="--adapter must be one of none, lora, ia3"):
        add_adapter(model, AdapterOptions(adapter="prefix"))


@pytest.mark.parametrize("strategy", ["lora", "ia3"])
def test_adapters_on_a_convolutional_backbone(strategy: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    x = rng.integers(0, 60, size=(40, 12, 12, 1)).astype(np.uint8)
    x[y == 1, 3:9, 3:9] = 250  # a bright square tells class 1
    run = graft.fit("builtin:lenet", (x, y), strategy, out=tmp_path / strategy, image_size=16, epochs=4,
                    batch_size=8, lr=1e-2, progress=False, test_fraction=0.25)
    assert run.metrics["trainable_params"] < run.metrics["total_params"]
    assert run.metrics["test_accuracy"] >= 0.7


def test_dann_with_a_lora_adapter_on_text(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}?domain=book", "dann",
                    source=f"csv:{sentiment_csv}?domain=movie", text_column="review", adapter="lora", lora_r=2,
                    out=tmp_path / "dann", epochs=3, batch_size=16, lr=0.05, progress=False, shift_report=False)
    m = run.metrics
    assert m["selected_by"] == "im" and m["trainable_params"] < 0.5 * m["total_params"]
    assert (tmp_path / "dann" / "model" / "model.safetensors").exists()
