"""Every spec kind: groups cover each backbone parameter exactly once, stem first."""

from __future__ import annotations

import pytest
import torch

from graft.models import DataInfo, ModelOptions, build_model

CASES = [
    ("builtin:lenet", "digits", "conv1.weight"),
    ("builtin:mlp", "table", "layers.0.weight"),
    ("builtin:efficientnet-lite0", "rgb", "conv_stem.weight"),
    ("timm:test_efficientnet", "rgb", "conv_stem.weight"),
    ("timm:test_vit", "rgb", "patch_embed.proj.weight"),
    ("timm:resnet10t", "rgb", "conv1.0.weight"),
]


@pytest.mark.parametrize(("spec", "data", "stem_param"), CASES)
def test_groups_cover_backbone_once_stem_first(spec: str, data: str, stem_param: str, request: pytest.FixtureRequest) -> None:
    info: DataInfo = request.getfixturevalue(f"{data}_info")
    model = build_model(spec, info, ModelOptions(pretrained=False, image_size=32 if data == "rgb" else None))
    names = [n for group in model.spec.groups for n in group]
    assert sorted(names) == sorted(n for n, _ in model.backbone.named_parameters())
    assert len(names) == len(set(names))
    assert stem_param in model.spec.stem
    groups = model.layer_groups()
    assert [n for n, _ in groups[-1]] == ["head.weight", "head.bias"]
    assert sum(len(g) for g in groups) == len(list(model.parameters()))
    assert model.spec.no_weight_decay <= set(names)
    modules = dict(model.backbone.named_modules())
    assert model.spec.adapter_targets and all(t in modules for t in model.spec.adapter_targets)


@pytest.mark.parametrize(("spec", "data", "stem_param"), CASES)
def test_forward_gives_features_and_logits(spec: str, data: str, stem_param: str, request: pytest.FixtureRequest) -> None:
    info: DataInfo = request.getfixturevalue(f"{data}_info")
    model = build_model(spec, info, ModelOptions(pretrained=False, image_size=32 if data == "rgb" else None)).eval()
    inp = model.spec.input
    x = torch.randn(2, inp.width) if inp.kind == "table" else torch.randn(2, inp.channels, *inp.size)
    with torch.no_grad():
        assert model.forward_features(x).shape == (2, model.spec.feature_dim)
        assert model(x).shape == (2, info.num_classes)
