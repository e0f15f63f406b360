"""timm:NAME backbones and their spec."""

from __future__ import annotations

import pytest
import torch

from graft.errors import CheckpointError, SpecError
from graft.models import DataInfo, ModelOptions, build_model


def test_input_from_pretrained_cfg(rgb_info: DataInfo) -> None:
    model = build_model("timm:resnet10t", rgb_info, ModelOptions(pretrained=False))
    cfg = model.backbone.pretrained_cfg
    assert model.spec.input.size == tuple(cfg["input_size"][1:])
    assert model.spec.input.mean == tuple(cfg["mean"]) and model.spec.input.std == tuple(cfg["std"])
    assert model.spec.input.channels == 3
    assert model.spec.feature_dim == model.backbone.num_features == 512


def test_image_size_override(rgb_info: DataInfo) -> None:
    model = build_model("timm:resnet10t", rgb_info, ModelOptions(pretrained=False, image_size=48))
    assert model.spec.input.size == (48, 48)


def test_fixed_size_transformer_is_built_for_the_override(rgb_info: DataInfo) -> None:
    model = build_model("timm:test_vit", rgb_info, ModelOptions(pretrained=False, image_size=64)).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 3)


def test_groups_follow_group_matcher(rgb_info: DataInfo) -> None:
    spec = build_model("timm:test_vit", rgb_info, ModelOptions(pretrained=False)).spec
    assert "cls_token" in spec.stem and "pos_embed" in spec.stem
    assert any(n.startswith("blocks.0.") for n in spec.groups[1])
    assert {"cls_token", "pos_embed"} <= spec.no_weight_decay
    assert "blocks.0.attn.qkv.weight" not in spec.no_weight_decay
    assert "blocks.0.attn.qkv" in spec.adapter_targets


def test_unknown_timm_name_says_did_you_mean(rgb_info: DataInfo) -> None:
    with pytest.raises(SpecError, match="Did you mean 'resnet18'"):
        build_model("timm:resnet18x", rgb_info, ModelOptions(pretrained=False))


def test_offline_pretrained_says_no_pretrained(rgb_info: DataInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    import timm

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("cannot reach huggingface.co")

    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(CheckpointError, match="--no-pretrained.*file:"):
        build_model("timm:resnet10t", rgb_info, ModelOptions(pretrained=True))


def test_unknown_weights_tag(rgb_info: DataInfo) -> None:
    with pytest.raises(SpecError, match="Did you mean 'resnet18.a1_in1k'"):
        build_model("timm:resnet18.a1_in1kk", rgb_info, ModelOptions(pretrained=False))
