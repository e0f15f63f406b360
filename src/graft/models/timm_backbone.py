"""``timm:NAME`` backbones and the spec of any timm model."""

from __future__ import annotations

from typing import Any

from torch import nn

from graft.data.base import InputSpec
from graft.errors import CheckpointError, SpecError, did_you_mean
from graft.models.introspect import adapter_target_names, groups_by_children, no_decay_names
from graft.models.options import DataInfo, ModelOptions
from graft.models.spec import BackboneSpec


def build_timm(name: str, data_info: DataInfo, options: ModelOptions) -> tuple[nn.Module, BackboneSpec]:
    """Create timm model ``name`` without its classifier, so it returns pooled features.

    Raises:
        SpecError: ``name`` is not a timm model.
        CheckpointError: Pretrained weights cannot be fetched (offline).
    """
    import timm
    from timm.models import get_pretrained_cfg, split_model_name_tag

    arch, _ = split_model_name_tag(name)
    if not timm.is_model(arch):
        allowed = timm.list_models()
        raise SpecError(
            f"Unknown timm model '{name}'.{did_you_mean(arch, allowed)} "
            f"Allowed: any of the {len(allowed)} names of timm.list_models() "
            "(an optional '.tag' picks the pretrained weights, e.g. timm:resnet18.a1_in1k)."
        )
    kwargs: dict[str, Any] = {}
    try:
        cfg = get_pretrained_cfg(name)
    except RuntimeError as exc:  # an unknown '.tag'
        tags = timm.list_pretrained(f"{arch}.*")
        raise SpecError(
            f"Unknown weights tag in timm model '{name}'.{did_you_mean(name, tags)} "
            f"Allowed: {', '.join(tags) or arch + ' (no tagged weights)'}."
        ) from exc
    if options.image_size and cfg is not None and cfg.fixed_input_size:
        kwargs["img_size"] = options.image_size  # transformers build position tables per size
    try:
        model = timm.create_model(name, pretrained=options.pretrained, num_classes=0, **kwargs)
    except OSError as exc:
        raise CheckpointError(
            f"Could not fetch the pretrained weights of timm model '{name}' ({exc}). "
            "graft does not download at run time when offline: pass --no-pretrained "
            "(ModelOptions(pretrained=False)) for random init, or load local weights "
            f"with --model file:PATH --arch timm:{name}."
        ) from exc
    except RuntimeError as exc:
        if "pretrained" not in str(exc):
            raise
        raise CheckpointError(
            f"timm model '{name}' has no pretrained weights ({exc}). Pass --no-pretrained "
            f"for random init, or load local weights with --model file:PATH --arch timm:{name}."
        ) from exc
    return model, spec_from_timm(model, f"timm:{name}", options)


def spec_from_timm(model: nn.Module, name: str, options: ModelOptions) -> BackboneSpec:
    """Describe a timm model built with ``num_classes=0``.

    Input comes from ``model.pretrained_cfg`` (``options.image_size`` overrides the
    size), groups from ``model.group_matcher`` (input side first), the no-decay set
    from 1-D parameters plus ``model.no_weight_decay()``.
    """
    cfg: dict[str, Any] = dict(getattr(model, "pretrained_cfg", None) or {})
    chans, height, width = cfg.get("input_size", (3, 224, 224))
    chans = int(getattr(model, "in_chans", chans) or chans)
    size = (options.image_size, options.image_size) if options.image_size else (int(height), int(width))
    input_spec = InputSpec(
        kind="image",
        channels=chans,
        size=size,
        mean=tuple(float(m) for m in cfg.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(float(s) for s in cfg.get("std", (0.229, 0.224, 0.225))),
    )
    extra_no_decay: set[str] = set()
    if hasattr(model, "no_weight_decay"):
        extra_no_decay = set(model.no_weight_decay())
    return BackboneSpec(
        name=name,
        feature_dim=int(model.num_features),  # type: ignore[arg-type]
        input=input_spec,
        groups=timm_groups(model),
        no_weight_decay=no_decay_names(model, extra_no_decay),
        adapter_targets=adapter_target_names(model),
    )


def timm_groups(model: nn.Module) -> list[list[str]]:
    """Ordered parameter-name groups from timm's fine-grained ``group_matcher``."""
    from timm.models import group_parameters

    matcher = getattr(model, "group_matcher", None)
    if matcher is None:
        return groups_by_children(model)
    try:
        grouped = group_parameters(model, matcher(coarse=False))
    except NotImplementedError:
        return groups_by_children(model)
    return [list(grouped[k]) for k in sorted(grouped) if grouped[k]]
