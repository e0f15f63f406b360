"""build_model schemes, save_model/load_model, run:DIR, file:PATH, user modules."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from graft.errors import CheckpointError, ConfigError, MissingPathError, SpecError
from graft.models import DataInfo, GraftModel, ModelOptions, build_model, load_model, save_model


def _same_outputs(a: GraftModel, b: GraftModel, x: torch.Tensor) -> bool:
    a.eval(), b.eval()
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def test_save_load_round_trip(tmp_path: Path, rgb_info: DataInfo) -> None:
    model = build_model("timm:test_efficientnet", rgb_info, ModelOptions(pretrained=False, image_size=32))
    save_model(model, tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["num_classes"] == 3 and meta["classes"] == ["a", "b", "c"]
    assert meta["input"]["size"] == [32, 32] and meta["recipe"]["spec"] == "timm:test_efficientnet"
    loaded = load_model(tmp_path)  # a run directory works as well as its model/ folder
    assert _same_outputs(model, loaded, torch.randn(2, 3, 32, 32))
    assert loaded.spec.input == model.spec.input and loaded.classes == model.classes
    assert not list(tmp_path.glob("model/.*.tmp"))


def test_pretrained_builtin_rebuilds_without_pretrained(tmp_path: Path, rgb_info: DataInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    model = build_model("builtin:efficientnet-lite0", rgb_info, ModelOptions(image_size=64))
    save_model(model, tmp_path / "model")

    def no_file(model: nn.Module, variant: int = 0) -> None:
        raise AssertionError("the ImageNet file must not be read on rebuild")

    monkeypatch.setattr("graft.models.efficientnet_lite.imagenet_state_dict", no_file)
    loaded = load_model(tmp_path / "model")
    assert loaded.spec.input.size == (64, 64)
    assert _same_outputs(model, loaded, torch.randn(2, 3, 64, 64))


def test_run_dir_same_classes_keeps_head(tmp_path: Path, digits_info: DataInfo) -> None:
    model = build_model("builtin:lenet", digits_info)
    save_model(model, tmp_path / "model")
    again = build_model(f"run:{tmp_path}", digits_info)
    assert _same_outputs(model, again, torch.randn(2, 1, 28, 28))


def test_run_dir_new_classes_keeps_backbone_new_head(tmp_path: Path, digits_info: DataInfo) -> None:
    model = build_model("builtin:lenet", digits_info)
    save_model(model, tmp_path / "model")
    target = DataInfo(kind="image", num_classes=2, classes=["x", "y"], channels=1)
    moved = build_model(f"run:{tmp_path}", target)
    assert moved.head.out_features == 2 and moved.classes == ["x", "y"]
    for (name, a), (_, b) in zip(model.backbone.state_dict().items(), moved.backbone.state_dict().items()):
        assert torch.equal(a, b), name
    save_model(moved, tmp_path / "second" / "model")  # a transferred run rebuilds too
    assert load_model(tmp_path / "second").spec.recipe["spec"] == "builtin:lenet"


def test_run_dir_missing_files(tmp_path: Path, digits_info: DataInfo) -> None:
    with pytest.raises(MissingPathError, match="model/model.json and model/model.safetensors"):
        build_model(f"run:{tmp_path / 'nope'}", digits_info)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.json").write_text("{}")
    with pytest.raises(MissingPathError, match="model.safetensors"):
        build_model(f"run:{tmp_path}", digits_info)


def test_file_pt_state_dict_loads(tmp_path: Path, digits_info: DataInfo) -> None:
    source = build_model("builtin:lenet", digits_info)
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.backbone.state_dict().items()}}, tmp_path / "w.pt")
    model = build_model(f"file:{tmp_path / 'w.pt'}", digits_info, ModelOptions(arch="builtin:lenet"))
    assert torch.equal(model.backbone.fc.weight, source.backbone.fc.weight)
    assert model.spec.recipe["spec"] == "builtin:lenet" and model.spec.recipe["options"]["pretrained"] is False


def test_file_safetensors_from_graft_ignores_head(tmp_path: Path, digits_info: DataInfo) -> None:
    source = build_model("builtin:lenet", digits_info)
    save_model(source, tmp_path)
    other = DataInfo(kind="image", num_classes=4, classes=list("abcd"), channels=1)
    model = build_model(f"file:{tmp_path / 'model.safetensors'}", other, ModelOptions(arch="builtin:lenet"))
    assert torch.equal(model.backbone.conv1.weight, source.backbone.conv1.weight)
    assert model.head.out_features == 4


def test_file_timm_checkpoint_with_classifier(tmp_path: Path, rgb_info: DataInfo) -> None:
    import timm

    full = timm.create_model("resnet10t", pretrained=False, num_classes=7)
    torch.save(full.state_dict(), tmp_path / "r.pth")
    model = build_model(f"file:{tmp_path / 'r.pth'}", rgb_info, ModelOptions(arch="timm:resnet10t"))
    assert torch.equal(model.backbone.conv1[0].weight, full.conv1[0].weight)


def test_file_wrong_arch_names_missing_keys(tmp_path: Path, digits_info: DataInfo) -> None:
    torch.save(build_model("builtin:lenet", digits_info).backbone.state_dict(), tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match=r"missing keys \(e.g. conv_stem.weight.*--arch"):
        build_model(f"file:{tmp_path / 'w.pt'}", digits_info, ModelOptions(arch="timm:test_efficientnet"))


def test_file_shape_mismatch(tmp_path: Path, digits_info: DataInfo) -> None:
    torch.save(build_model("builtin:lenet", digits_info).backbone.state_dict(), tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match="shape mismatches.*fc.weight"):
        build_model(f"file:{tmp_path / 'w.pt'}", digits_info, ModelOptions(arch="builtin:lenet", image_size=32))


def test_file_refuses_pickled_code(tmp_path: Path, digits_info: DataInfo) -> None:
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": Path("x")}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        build_model(f"file:{tmp_path / 'evil.pt'}", digits_info, ModelOptions(arch="builtin:lenet"))


def test_file_needs_arch_and_existing_path(tmp_path: Path, digits_info: DataInfo) -> None:
    with pytest.raises(ConfigError, match="--arch"):
        build_model(f"file:{tmp_path / 'w.pt'}", digits_info)
    with pytest.raises(MissingPathError):
        build_model(f"file:{tmp_path / 'w.pt'}", digits_info, ModelOptions(arch="builtin:lenet"))


def test_unknown_scheme_and_bare_names(digits_info: DataInfo) -> None:
    with pytest.raises(SpecError, match="Did you mean 'timm'.*Allowed: builtin, file, hf, run, timm"):
        build_model("tim:resnet18", digits_info)
    with pytest.raises(SpecError, match="Did you mean 'builtin:lenet'"):
        build_model("lenet", digits_info)
    with pytest.raises(SpecError, match="Did you mean 'timm:resnet18'"):
        build_model("resnet18", digits_info)


class _Features(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.proj = nn.Linear(4, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.body(x))


def test_user_module_wrapped_and_not_mutated(digits_info: DataInfo) -> None:
    user = _Features().train()
    before = copy.deepcopy(user.state_dict())
    model = build_model(user, digits_info)
    assert model.spec.feature_dim == 6
    assert model.spec.groups[0][0].startswith("body.") and model.spec.groups[-1][0].startswith("proj.")
    assert model.backbone is not user and user.training
    with torch.no_grad():
        model.backbone.proj.weight.add_(1.0)
    for key, value in user.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_user_module_round_trip_needs_arch(tmp_path: Path, digits_info: DataInfo) -> None:
    model = build_model(_Features(), digits_info)
    save_model(model, tmp_path)
    with pytest.raises(ConfigError, match="arch=MyModule"):
        load_model(tmp_path)
    loaded = load_model(tmp_path, arch=_Features())
    assert _same_outputs(model, loaded, torch.randn(2, 1, 28, 28))


def test_user_module_must_return_features(digits_info: DataInfo) -> None:
    with pytest.raises(ConfigError, match=r"\[batch, dim\]"):
        build_model(nn.Conv2d(1, 2, 3), digits_info)


def test_user_timm_module_loses_classifier(rgb_info: DataInfo) -> None:
    import timm

    user = timm.create_model("test_resnet", pretrained=False, num_classes=5)
    model = build_model(user, rgb_info, ModelOptions(image_size=32)).eval()
    assert user.num_classes == 5 and model.backbone.num_classes == 0
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


def test_hf_local_folder_and_missing(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=32)
    transformers.BertModel(config).save_pretrained(tmp_path / "bert")
    info = DataInfo(kind="text", num_classes=2, classes=["neg", "pos"])
    model = build_model(f"hf:{tmp_path / 'bert'}", info)
    assert model.spec.feature_dim == 16 and model.spec.input.kind == "text"
    assert len(model.spec.groups) == 3  # embeddings, 2 layers (the unused pooler is dropped)
    batch = {"input_ids": torch.randint(0, 50, (2, 5)), "attention_mask": torch.ones(2, 5, dtype=torch.long)}
    assert model(batch).shape == (2, 2)
    with pytest.raises(ConfigError, match="'hf:.*missing' is not a folder on this machine.*Fix: check the path"):
        build_model(f"hf:{tmp_path / 'missing'}", info)


def test_model_kind_must_match_data(table_info: DataInfo) -> None:
    with pytest.raises(ConfigError, match="takes image input, but the data is table"):
        build_model("builtin:lenet", table_info)
