"""Text encoders: builtin:minilm, hf: with pooling and max length, layer groups, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from graft.data.text import tokenized_dataset
from graft.errors import ConfigError
from graft.models import DataInfo, ModelOptions, build_model, load_model, save_model

INFO = DataInfo(kind="text", num_classes=2, classes=["neg", "pos"])


def _batch(model, texts: list[str]) -> dict[str, torch.Tensor]:
    data = tokenized_dataset(texts, np.zeros(len(texts), dtype=np.int64), model.spec.input)
    x, _ = data.collate([data[i] for i in range(len(texts))])
    return x


def test_hf_groups_are_embeddings_then_each_block(tiny_bert: Path) -> None:
    model = build_model(f"hf:{tiny_bert}", INFO)
    groups = model.layer_groups()
    names = [[n for n, _ in g] for g in groups]
    assert len(groups) == 4  # embeddings, layer 0, layer 1, head
    assert all("embeddings" in n for n in names[0])
    assert all(".layer.0." in n for n in names[1]) and all(".layer.1." in n for n in names[2])
    assert names[3] == ["head.weight", "head.bias"]
    assert model.spec.input.tokenizer == str(tiny_bert) and model.spec.input.max_length == 64
    assert model.spec.adapter_targets and all(n.endswith((".query", ".value")) for n in model.spec.adapter_targets)


def test_mean_pooling_ignores_padding_and_cls_takes_the_first_token(tiny_bert: Path) -> None:
    mean = build_model(f"hf:{tiny_bert}", INFO).eval()
    short = _batch(mean, ["good movie", "good movie"])
    padded = {k: torch.cat([v, torch.zeros(2, 3, dtype=v.dtype)], dim=1) for k, v in short.items()}
    with torch.no_grad():
        assert torch.allclose(mean.backbone(short), mean.backbone(padded), atol=1e-5)
        states = mean.backbone.model(**short).last_hidden_state
    cls = build_model(f"hf:{tiny_bert}", INFO, ModelOptions(pooling="cls")).eval()
    with torch.no_grad():
        assert torch.allclose(cls.backbone(short), states[:, 0], atol=1e-5)
    with pytest.raises(ConfigError, match="--pooling must be one of mean, cls"):
        build_model(f"hf:{tiny_bert}", INFO, ModelOptions(pooling="max"))


def test_max_length_truncates_and_is_checked(tiny_bert: Path) -> None:
    model = build_model(f"hf:{tiny_bert}", INFO, ModelOptions(max_length=5))
    x = _batch(model, ["the movie was very very good and nice", "bad"])
    assert x["input_ids"].shape == (2, 5)  # dynamic padding to the longest, which is truncated
    assert x["attention_mask"].tolist()[1] == [1, 1, 1, 0, 0]
    with pytest.raises(ConfigError, match="longer than the model's 64 positions"):
        build_model(f"hf:{tiny_bert}", INFO, ModelOptions(max_length=100))


def test_a_decoder_is_refused(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=20, n_embd=8, n_layer=1, n_head=2, n_positions=16,
                                     architectures=["GPT2LMHeadModel"])
    config.save_pretrained(tmp_path / "gpt")
    with pytest.raises(ConfigError, match="decoder-only language model .* not an encoder"):
        build_model(f"hf:{tmp_path / 'gpt'}", INFO)


def test_run_dir_round_trip_of_a_text_model(tiny_bert: Path, tmp_path: Path) -> None:
    model = build_model(f"hf:{tiny_bert}", INFO, ModelOptions(pooling="cls", max_length=8)).eval()
    save_model(model, tmp_path / "model")
    again = load_model(tmp_path).eval()
    x = _batch(model, ["good movie", "awful food was bad"])
    with torch.no_grad():
        assert torch.allclose(model(x), again(x), atol=1e-6)
    assert again.spec.input.max_length == 8 and again.backbone.pooling == "cls"


def test_builtin_minilm_is_all_minilm_l6_v2() -> None:
    model = build_model("builtin:minilm", INFO).eval()
    assert model.spec.name == "builtin:minilm" and model.spec.feature_dim == 384
    assert len(model.layer_groups()) == 1 + 6 + 1  # embeddings, 6 blocks, head
    x = _batch(model, ["The team won the cup final.", "Shares fell after the profit warning.",
                       "The match ended in a late win for the team."])
    with torch.no_grad():
        f = torch.nn.functional.normalize(model.backbone(x), dim=1)
    sim = f @ f.T
    assert sim[0, 2] > sim[0, 1] + 0.1  # the two football sentences are closer


def test_transformer_weights_learn_at_a_tenth_of_the_head(tiny_bert: Path) -> None:
    from graft.engine.param_groups import model_param_groups

    model = build_model(f"hf:{tiny_bert}", INFO)
    groups = model_param_groups(model, weight_decay=0.01, layer_decay=0.5)
    scales = {g["layer"]: g["lr_scale"] for g in groups}
    assert scales == {0: pytest.approx(0.1 * 0.125), 1: pytest.approx(0.1 * 0.25), 2: pytest.approx(0.1 * 0.5), 3: 1.0}
