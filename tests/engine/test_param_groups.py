"""Optimizer parameter groups: layer-wise LR decay, coverage, and weight-decay splits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graft.engine.param_groups import layer_scales, model_param_groups
from graft.models import DataInfo, GraftModel, ModelOptions, build_model

RGB = DataInfo(kind="image", num_classes=3, classes=["a", "b", "c"], channels=3, size=(32, 32))
GRAY = DataInfo(kind="image", num_classes=10, classes=[str(i) for i in range(10)], channels=1, size=(28, 28))
TABLE = DataInfo(kind="table", num_classes=3, classes=["a", "b", "c"], width=6)

MODELS = [("timm:test_resnet", RGB), ("builtin:lenet", GRAY), ("builtin:mlp", TABLE)]


def _build(spec: str, info: DataInfo) -> GraftModel:
    torch.manual_seed(0)
    return build_model(spec, info, ModelOptions(pretrained=False, image_size=32 if info is RGB else None))


def test_layer_scales_decay_geometrically_toward_the_stem() -> None:
    assert layer_scales(4, 0.5) == pytest.approx([0.125, 0.25, 0.5, 1.0])
    assert layer_scales(4, 0.5, head_lr_scale=10.0) == pytest.approx([0.125, 0.25, 0.5, 10.0])
    assert layer_scales(3, None, head_lr_scale=5.0) == [1.0, 1.0, 5.0]
    assert layer_scales(3, 1.0) == [1.0, 1.0, 1.0]
    assert layer_scales(1, 0.5, head_lr_scale=2.0) == [2.0]


@pytest.mark.parametrize(("spec", "info"), MODELS)
def test_every_parameter_is_in_exactly_one_group(spec: str, info: DataInfo) -> None:
    model = _build(spec, info)
    groups = model_param_groups(model, weight_decay=0.05, layer_decay=0.7)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    # Groups are accepted by a real optimizer (it rejects a parameter in two groups).
    torch.optim.AdamW(groups, lr=1e-3)


@pytest.mark.parametrize(("spec", "info"), MODELS)
def test_no_decay_groups_hold_biases_norms_and_the_spec_set(spec: str, info: DataInfo) -> None:
    model = _build(spec, info)
    groups = model_param_groups(model, weight_decay=0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay_spec = {f"backbone.{n}" for n in model.spec.no_weight_decay}
    for g in groups:
        group_names = [names[id(p)] for p in g["params"]]
        if g["name"].endswith("_no_decay"):
            assert g["weight_decay"] == 0.0
            assert all(p.ndim <= 1 or names[id(p)] in no_decay_spec for p in g["params"])
        else:
            assert g["weight_decay"] == 0.05
            assert all(p.ndim > 1 for p in g["params"])
            assert not set(group_names) & no_decay_spec
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    for n, p in model.named_parameters():
        if n.endswith("bias") or p.ndim == 1 or n in no_decay_spec:
            assert id(p) not in decayed, n


@pytest.mark.parametrize(("spec", "info"), MODELS)
def test_lr_scales_follow_layer_decay_head_first(spec: str, info: DataInfo) -> None:
    model = _build(spec, info)
    n_layers = len(model.layer_groups())
    groups = model_param_groups(model, weight_decay=0.0, layer_decay=0.5, head_lr_scale=3.0)
    by_layer = {g["layer"]: g["lr_scale"] for g in groups}
    assert sorted(by_layer) == list(range(n_layers))
    assert by_layer[n_layers - 1] == 3.0
    for k in range(1, n_layers):
        assert by_layer[n_layers - 1 - k] == pytest.approx(0.5**k)
    head_params = {id(p) for p in model.head.parameters()}
    head_groups = [g for g in groups if any(id(p) in head_params for p in g["params"])]
    assert head_groups and all(g["layer"] == n_layers - 1 for g in head_groups)
    stem = {id(p) for n, p in model.named_parameters() if n[len("backbone."):] in model.spec.stem}
    assert all(g["lr_scale"] == pytest.approx(0.5 ** (n_layers - 1))
               for g in groups if any(id(p) in stem for p in g["params"]))


def test_frozen_parameters_keep_their_groups_and_their_flag() -> None:
    model = _build("builtin:mlp", TABLE)
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    groups = model_param_groups(model, weight_decay=0.01)
    assert {id(p) for g in groups for p in g["params"]} == {id(p) for p in model.parameters()}
    # The builder never flips requires_grad (timm's does; graft's must not).
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


def test_extra_modules_train_at_the_head_scale() -> None:
    model = _build("builtin:mlp", TABLE)
    disc = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
    groups = model_param_groups(model, weight_decay=0.01, layer_decay=0.5, head_lr_scale=2.0,
                                extra={"discriminator": disc, "empty": nn.ReLU()})
    extra = [g for g in groups if g["name"] == "discriminator"]
    assert len(extra) == 1
    assert extra[0]["lr_scale"] == 2.0 and extra[0]["weight_decay"] == 0.01
    assert {id(p) for p in extra[0]["params"]} == {id(p) for p in disc.parameters()}
    assert not any(g["name"] == "empty" for g in groups)
