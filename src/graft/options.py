"""Typed dataclass configs built from loose options (CLI strings or API kwargs).

The CLI is generated from the config dataclasses: every field of the engine's and
the chosen strategy's config is an option (``--layer-decay 0.7`` sets
``layer_decay``), converted to the field's type here and validated once.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union

from graft.errors import ConfigError, did_you_mean

C = TypeVar("C")


def field_names(*classes: type) -> list[str]:
    """All field names of the given dataclasses."""
    return [f.name for cls in classes for f in dataclasses.fields(cls)]


def build_config(cls: type[C], options: dict[str, Any], owner: str) -> C:
    """Instantiate dataclass ``cls`` from ``options``, converting strings to field types.

    Args:
        cls: The config dataclass.
        options: Field name (dashes or underscores) → value.
        owner: Who owns the options, for error messages ("strategy 'finetune'").
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {}
    for key, value in options.items():
        name = key.replace("-", "_")
        if name not in fields:
            allowed = sorted(f.replace("_", "-") for f in fields)
            raise ConfigError(
                f"Unknown option '--{key.replace('_', '-')}' for {owner}."
                f"{did_you_mean(key.replace('_', '-'), allowed)} Allowed: "
                f"{', '.join('--' + a for a in allowed)}."
            )
        kwargs[name] = convert(value, hints[name], name)
    return cls(**kwargs)


def convert(value: Any, hint: Any, name: str) -> Any:
    """Convert ``value`` (often a string from the command line) to type ``hint``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(value, arg, name)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"Bad value {value!r} for '{name}'.")
    if not isinstance(value, str):
        if origin is tuple and isinstance(value, (list, tuple)):
            return tuple(value)
        return value
    try:
        if hint is bool:
            low = value.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
        if origin is tuple:
            inner = args[0] if args else str
            return tuple(convert(v.strip(), inner, name) for v in value.split(",") if v.strip())
        if hint is str or hint is Any:
            return value
    except ValueError:
        pass
    else:
        return value
    kind = getattr(hint, "__name__", str(hint))
    raise ConfigError(
        f"The '--{name.replace('_', '-')}' option must be of type {kind}. Got {value!r} instead."
    )
