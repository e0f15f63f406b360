"""``timm:NAME`` backbones and the spec of any timm model.

Pretrained weights come from the local cache when they are there (no network at all),
and from the hub otherwise; when they are not cached and the host does not answer
within seconds, the build fails at once with what to do instead, rather than after
a minute of download retries.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from torch import nn

from graft.data.base import InputSpec
from graft.errors import CheckpointError, SpecError, did_you_mean
from graft.models.hub_access import cached_hub_file, hub_endpoint, unreachable_reason
from graft.models.introspect import adapter_target_names, groups_by_children, no_decay_names
from graft.models.options import DataInfo, ModelOptions
from graft.models.spec import BackboneSpec
from graft.warnings_filter import quiet_third_party


def build_timm(name: str, data_info: DataInfo, options: ModelOptions) -> tuple[nn.Module, BackboneSpec]:
    """Create timm model ``name`` without its classifier, so it returns pooled features.

    Raises:
        SpecError: ``name`` is not a timm model.
        CheckpointError: Pretrained weights are neither in the local cache nor
            reachable (offline), or the model has none.
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
    if options.pretrained and cfg is not None:
        kwargs.update(_weights_source(name, cfg))
    try:
        with quiet_third_party():
            model = timm.create_model(name, pretrained=options.pretrained, num_classes=0, **kwargs)
    except OSError as exc:
        raise CheckpointError(_unfetchable(name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)) from exc
    except RuntimeError as exc:
        if "pretrained" not in str(exc):
            raise
        raise CheckpointError(
            f"timm model '{name}' has no pretrained weights ({exc}). Pass --no-pretrained "
            f"for random init, or load local weights with --model file:PATH --arch timm:{name}."
        ) from exc
    return model, spec_from_timm(model, f"timm:{name}", options)


def _weights_source(name: str, cfg: Any) -> dict[str, Any]:
    """``create_model`` keyword arguments that load cached weights without the network.

    Returns ``{}`` when timm finds the weights by itself (a torch-hub cache, a file the
    config names) or will download them from a host that answers.

    Raises:
        CheckpointError: The weights are not cached and their host is unreachable.
    """
    if cfg.file or cfg.state_dict:
        return {}  # weights given locally: nothing to fetch
    if cfg.hf_hub_id:
        repo, _, revision = str(cfg.hf_hub_id).partition("@")
        cached = cached_hub_file(repo, _hub_weight_files(cfg.hf_hub_filename), revision or None)
        if cached is not None:
            # Loading the cached file directly skips huggingface_hub's freshness check,
            # which on a flaky network can retry for a minute before using the cache.
            return {"pretrained_cfg_overlay": {"file": cached}}
        host_url = hub_endpoint()
    elif cfg.url:
        import torch.hub

        if os.path.isfile(os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlsplit(cfg.url).path))):
            return {}  # timm's download helper returns the cached file without the network
        host_url = cfg.url
    else:
        return {}  # no pretrained weights at all: timm says so below
    reason = unreachable_reason(host_url)
    if reason is not None:
        raise CheckpointError(_unfetchable(name, f"offline ({reason}) and not in the local cache"))
    return {}


def _hub_weight_files(filename: str | None) -> list[str]:
    """The files timm would read from a hub repository, safetensors first as timm prefers."""
    filename = filename or "pytorch_model.bin"
    if not filename.endswith(".bin"):
        return [filename]
    safe = {"pytorch_model.bin": "model.safetensors", "open_clip_pytorch_model.bin": "open_clip_model.safetensors"}
    return [safe.get(filename, filename[: -len(".bin")] + ".safetensors"), filename]


def _unfetchable(name: str, why: str) -> str:
    return (
        f"Pretrained weights for timm:{name} could not be fetched: {why}. Fix: pass --no-pretrained "
        f"(pretrained=False) for random init, --model file:PATH --arch timm:{name} for weights on disk, "
        "or a built-in model with shipped weights (graft list), e.g. builtin:efficientnet-lite0."
    )


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
    no_weight_decay = getattr(model, "no_weight_decay", None)
    if no_weight_decay is not None:
        extra_no_decay = set(no_weight_decay())
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
