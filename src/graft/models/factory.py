"""Model specs → :class:`GraftModel`; saving and loading a run's model.

Schemes: ``timm:NAME``, ``builtin:NAME``, ``hf:NAME_OR_PATH``, ``run:DIR`` and
``file:PATH`` (with ``options.arch``). A Python ``nn.Module`` is accepted too.

Example:
    >>> info = DataInfo(kind="image", num_classes=10, classes=[str(i) for i in range(10)])
    >>> model = build_model("builtin:lenet", info)
    >>> model.spec.feature_dim
    500
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from graft.errors import (
    CheckpointError,
    ConfigError,
    MissingPathError,
    SpecError,
    unknown_name,
)
from graft.io import atomic_path, write_json
from graft.models.builtin import BUILTIN_MODELS
from graft.models.options import DataInfo, ModelOptions
from graft.models.pruned import RECIPE_KEY as PRUNED_KEY
from graft.models.pruned import apply_widths
from graft.models.side import RECIPE_KEY as SIDE_TUNE_KEY
from graft.models.side import side_tune_backbone
from graft.models.spec import BackboneSpec, GraftModel
from graft.models.weights import load_backbone, read_state_dict, strip_prefixes

__all__ = [
    "MODEL_SCHEMES", "DataInfo", "ModelOptions", "build_model", "check_model_spec", "describe_builtin_models",
    "load_model", "save_model",
]

log = logging.getLogger("graft.models")

MODEL_SCHEMES: list[str] = ["builtin", "timm", "hf", "run", "file"]
WEIGHTS_FILE = "model.safetensors"
RECIPE_FILE = "model.json"
_FORMAT = "graft.model/1"
_BUILD_SCHEMES = ("builtin", "timm", "hf")


def describe_builtin_models() -> dict[str, str]:
    """``builtin:NAME`` → one-line description, for ``graft list``."""
    return {f"builtin:{name}": text for name, text in BUILTIN_MODELS.describe().items()}


def build_model(spec: str | nn.Module, data_info: DataInfo, options: ModelOptions | None = None) -> GraftModel:
    """Build a backbone from a spec and put a fresh linear head on it.

    Args:
        spec: ``timm:NAME``, ``builtin:NAME``, ``hf:NAME_OR_PATH``, ``run:DIR``,
            ``file:PATH`` (with ``options.arch``), or an ``nn.Module`` (deep-copied,
            never mutated) that returns features or is timm-like.
        data_info: Facts about the data (kind, classes, channels, table width).
        options: How to build it; defaults to ``ModelOptions()``.

    Raises:
        SpecError: Unknown scheme or name.
        ConfigError: Inconsistent options (``file:`` without ``arch``, ...).
        MissingPathError: ``run:``/``file:`` path that does not exist.
        CheckpointError: Weights that do not fit the architecture.
    """
    options = options or ModelOptions()
    if data_info.num_classes < 1:
        raise ConfigError(f"The data must have at least one class. Got num_classes={data_info.num_classes}.")
    if isinstance(spec, nn.Module):
        from graft.models.wrap import wrap_module

        backbone, bspec = wrap_module(spec, data_info, options)
        bspec.recipe = {"spec": None, "module": bspec.name, "options": options.to_dict(), "data": data_info.to_dict()}
        return GraftModel(backbone, bspec, data_info.num_classes, data_info.classes)
    if not isinstance(spec, str):
        raise SpecError(
            f"A model spec must be a string such as 'timm:resnet18' or an nn.Module. Got {type(spec).__name__}."
        )
    scheme, rest = _split(spec)
    if scheme == "run":
        model = _from_run(rest, data_info)
    elif scheme == "file":
        model = _from_file(rest, data_info, options)
    else:
        backbone, bspec = _build_backbone(spec, data_info, options)
        model = GraftModel(backbone, bspec, data_info.num_classes, data_info.classes)
    if model.spec.input.kind != data_info.kind:
        raise ConfigError(
            f"The model '{spec}' takes {model.spec.input.kind} input, but the data is {data_info.kind}. "
            "Fix: pick a model for this data (builtin:mlp for tables, timm:NAME or builtin:lenet for images, "
            "hf:NAME for text)."
        )
    return model


def check_model_spec(spec: str) -> None:
    """Catch a wrong model spec before any data is loaded: the scheme, a built-in's name, a
    ``run:``/``file:`` path that does not exist."""
    scheme, rest = _split(spec)
    # A rank candidate's own options, given to a command that builds one model.
    if "?" in spec and scheme in ("builtin", "timm"):
        from graft.options import unknown_option
        from graft.run_options import RUN_OPTIONS

        name, _, query = spec.partition("?")
        pairs = [item.partition("=") for item in query.split("&")]
        for key, _, _ in pairs:
            if key.replace("-", "_") not in RUN_OPTIONS:
                raise unknown_option(key, RUN_OPTIONS, f"the model '{spec}'")
        flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, _, v in pairs)
        raise SpecError(
            f"The model '{spec}' carries options after '?', which only graft rank reads (one set per candidate). "
            f"Allowed here: the spec alone, with the options as flags. Fix: pass --model {name} {flags}."
        )
    if scheme == "builtin":
        BUILTIN_MODELS.get(rest)
    elif scheme in ("run", "file") and not Path(rest).expanduser().exists():
        raise MissingPathError(
            f"The model '{spec}' names a path that does not exist. Fix: check the path"
            + (" (the --out of a finished graft run)." if scheme == "run" else ".")
        )


def _split(spec: str) -> tuple[str, str]:
    scheme, sep, rest = spec.partition(":")
    if not sep:
        hint = ""
        if spec in BUILTIN_MODELS:
            hint = f" Did you mean 'builtin:{spec}'?"
        elif Path(spec, "model", RECIPE_FILE).is_file():
            hint = f" Did you mean 'run:{spec}'?"
        else:
            import timm

            if timm.is_model(spec):
                hint = f" Did you mean 'timm:{spec}'?"
        raise SpecError(
            f"A model spec must be SCHEME:NAME with a scheme of {', '.join(MODEL_SCHEMES)}. Got '{spec}'.{hint}"
            " Fix: pass e.g. builtin:lenet or timm:resnet18 (graft list shows the built-in models)."
        )
    if scheme not in MODEL_SCHEMES:
        fix = f"Write the model as SCHEME:NAME, e.g. timm:resnet18 (got '{spec}')."
        raise unknown_name("model scheme", scheme, MODEL_SCHEMES, fix=fix)
    if not rest:
        raise SpecError(f"The model spec '{spec}' names no model after '{scheme}:'.")
    return scheme, rest


def _build_backbone(spec: str, data_info: DataInfo, options: ModelOptions) -> tuple[nn.Module, BackboneSpec]:
    """Backbone and spec for a ``builtin:``/``timm:``/``hf:`` spec, with its rebuild recipe."""
    scheme, name = _split(spec)
    if scheme == "builtin":
        backbone, bspec = BUILTIN_MODELS.get(name)(data_info, options)
    elif scheme == "timm":
        from graft.models.timm_backbone import build_timm

        backbone, bspec = build_timm(name, data_info, options)
    elif scheme == "hf":
        from graft.models.hf_backbone import build_hf

        backbone, bspec = build_hf(name, data_info, options)
    else:
        allowed = ", ".join(f"{s}:NAME" for s in _BUILD_SCHEMES)
        raise SpecError(f"'{spec}' cannot name an architecture. Allowed: {allowed}.")
    recipe_options = ModelOptions.from_dict({**options.to_dict(), "arch": None})
    bspec.recipe = {"spec": spec, "options": recipe_options.to_dict(), "data": data_info.to_dict(), **bspec.recipe}
    return backbone, bspec


def _from_file(path: str, data_info: DataInfo, options: ModelOptions) -> GraftModel:
    if not options.arch:
        raise ConfigError(
            f"'file:{path}' holds weights only, and graft needs the architecture they belong to. Fix: pass it with "
            "--arch (ModelOptions(arch=...)), e.g. --arch timm:resnet18 or --arch builtin:lenet."
        )
    if options.arch.startswith(("file:", "run:")):
        raise ConfigError(f"--arch must name an architecture (builtin:, timm:, hf:). Got '{options.arch}'. Fix: "
                          "pass e.g. --arch timm:resnet18.")
    state = strip_prefixes(read_state_dict(path))
    arch_options = ModelOptions.from_dict({**options.to_dict(), "pretrained": False, "arch": None})
    backbone, bspec = _build_backbone(options.arch, data_info, arch_options)
    fix = f"Pass the --arch the weights were saved from (got --arch {options.arch})."
    load_backbone(backbone, state, f"'{path}'", fix)
    return GraftModel(backbone, bspec, data_info.num_classes, data_info.classes)


def _from_run(directory: str, data_info: DataInfo) -> GraftModel:
    saved = load_model(directory)
    if saved.classes == list(data_info.classes):
        saved.source_run = directory
        return saved
    model = GraftModel(saved.backbone, saved.spec, data_info.num_classes, data_info.classes)
    model.source_run = directory  # its head (the source task's) stays reachable: co-tuning
    log.info("run:%s: kept the backbone, new %d-way head (the run had classes %s)",
             directory, data_info.num_classes, saved.classes[:10])
    return model


def save_model(model: GraftModel, dir: Path | str) -> None:
    """Write ``model.safetensors`` and ``model.json`` (the rebuild recipe) to ``dir``, atomically."""
    from safetensors.torch import save_file

    directory = Path(dir)
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        ptr = value.untyped_storage().data_ptr() if value.numel() else -1
        # safetensors refuses tensors that share memory (tied weights): copy the repeats
        tensors[key] = value.clone().contiguous() if ptr in seen else value.contiguous()
        if ptr != -1:
            seen.add(ptr)
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp))
    spec = model.spec
    write_json(directory / RECIPE_FILE, {
        "format": _FORMAT,
        "name": spec.name,
        "recipe": spec.recipe,
        "num_classes": model.num_classes,
        "head_hidden": list(model.head_hidden),
        "classes": list(model.classes),
        "feature_dim": spec.feature_dim,
        "input": _input_dict(spec),
    })


def load_model(dir: Path | str, arch: nn.Module | None = None) -> GraftModel:
    """Rebuild a model saved by :func:`save_model` (no pretrained weights are fetched).

    Args:
        dir: The ``model/`` folder, or a run directory holding one.
        arch: The ``nn.Module`` to use when the model was built from a Python module.

    Raises:
        MissingPathError: ``dir`` lacks ``model.json`` or ``model.safetensors``.
        CheckpointError: The weights do not fit the rebuilt architecture.
    """
    directory = _model_dir(Path(dir))
    meta = _read_meta(directory)
    recipe: dict[str, Any] = meta.get("recipe") or {}
    num_classes = int(meta["num_classes"])
    classes = [str(c) for c in meta.get("classes") or range(num_classes)]
    backbone, bspec = _rebuild(recipe, num_classes, classes, arch, directory)
    model = GraftModel(backbone, bspec, num_classes, classes,
                       head_hidden=tuple(int(h) for h in meta.get("head_hidden") or ()))
    state = read_state_dict(directory / WEIGHTS_FILE)
    if isinstance(recipe.get(PRUNED_KEY), dict):  # structurally pruned: the saved widths, then the weights
        apply_widths(model, recipe[PRUNED_KEY], state)
        model.spec.feature_dim = int(meta.get("feature_dim") or model.spec.feature_dim)
        model.spec.recipe = {**model.spec.recipe, PRUNED_KEY: recipe[PRUNED_KEY]}  # saved again with the model
    fix = "The model folder was edited or written by another graft version."
    load_backbone(model, state, f"'{directory / WEIGHTS_FILE}'", fix)
    return model


def _rebuild(recipe: dict[str, Any], num_classes: int, classes: list[str], arch: nn.Module | None,
             directory: Path) -> tuple[nn.Module, BackboneSpec]:
    """The architecture a saved recipe describes, without weights."""
    info = DataInfo.from_dict(recipe.get("data") or {}, num_classes, classes)
    options = ModelOptions.from_dict({**(recipe.get("options") or {}), "pretrained": False, "arch": None})
    if recipe.get("spec"):
        backbone, bspec = _build_backbone(str(recipe["spec"]), info, options)
    elif arch is not None:
        from graft.models.wrap import wrap_module

        backbone, bspec = wrap_module(arch, info, options)
        bspec.recipe = dict(recipe)
    else:
        raise ConfigError(
            f"The model in '{directory}' was built from a Python nn.Module ({recipe.get('module')}); "
            "graft cannot rebuild it by name. Fix: pass a fresh instance of that module: "
            "graft.load_run(run_dir, model=MyModule()) (or load_model(dir, arch=MyModule()))."
        )
    side = recipe.get(SIDE_TUNE_KEY)
    if isinstance(side, dict):  # a frozen base and a named side network (its own recipe), blended
        side_backbone, side_spec = _rebuild(side["side"], num_classes, classes, None, directory)
        backbone = side_tune_backbone(backbone, side_backbone, side_spec.feature_dim, bspec.feature_dim)
    elif side:  # a frozen base and a copy of it, blended
        backbone = side_tune_backbone(backbone)
    return backbone, bspec


def _model_dir(path: Path) -> Path:
    if not path.exists():
        raise MissingPathError(
            f"Run directory '{path}' does not exist. A run directory must contain "
            f"model/{RECIPE_FILE} and model/{WEIGHTS_FILE}. Fix: pass the --out of a finished graft run."
        )
    if (path / "model" / RECIPE_FILE).is_file() and not (path / RECIPE_FILE).is_file():
        path = path / "model"
    missing = [f for f in (RECIPE_FILE, WEIGHTS_FILE) if not (path / f).is_file()]
    if missing:
        raise MissingPathError(
            f"'{path}' lacks {', '.join(missing)}. A run directory must contain "
            f"model/{RECIPE_FILE} and model/{WEIGHTS_FILE} (written by a finished graft run). Fix: pass a "
            "finished run's --out; an interrupted one finishes with graft fit --resume and the same --out."
        )
    return path


def _read_meta(directory: Path) -> dict[str, Any]:
    try:
        meta = json.loads((directory / RECIPE_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"Could not read '{directory / RECIPE_FILE}': {exc}.") from exc
    if not isinstance(meta, dict) or "num_classes" not in meta:
        raise CheckpointError(f"'{directory / RECIPE_FILE}' is not a graft model recipe (no 'num_classes').")
    return meta


def _input_dict(spec: BackboneSpec) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(spec.input)
