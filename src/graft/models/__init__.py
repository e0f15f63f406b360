"""Models: specs (``timm:``, ``builtin:``, ``hf:``, ``run:``, ``file:``) → backbone + BackboneSpec."""

from graft.models.builtin import BUILTIN_MODELS
from graft.models.factory import (
    MODEL_SCHEMES,
    DataInfo,
    ModelOptions,
    build_model,
    check_model_spec,
    describe_builtin_models,
    load_model,
    save_model,
)
from graft.models.spec import BackboneSpec, GraftModel

__all__ = [
    "BUILTIN_MODELS",
    "MODEL_SCHEMES",
    "BackboneSpec",
    "DataInfo",
    "GraftModel",
    "ModelOptions",
    "build_model",
    "check_model_spec",
    "describe_builtin_models",
    "load_model",
    "save_model",
]
