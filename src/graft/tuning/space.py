"""The search space of ``graft tune``: the ranges declared next to the config fields, and ``--space``.

A strategy is tunable the day it is registered: its space is the union of the engine's declared
ranges (:class:`~graft.engine.config.TrainConfig`) and those of its own ``Config`` fields
(:class:`~graft.options.Search` in :func:`~graft.options.option`). Options the user fixes on the
command line leave the space; ``--space KEY=LOW:HIGH[:log]`` changes a range or adds an option.

Example:
    >>> from graft.strategies import STRATEGIES
    >>> space = search_space(STRATEGIES.get("scratch"), {}, ["lr=1e-4:1e-2:log"])
    >>> space["lr"].describe()
    '0.0001..0.01 (log)'
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from graft.engine.config import TrainConfig
from graft.errors import ConfigError, did_you_mean
from graft.options import Search, build_config, declaration, default_of, flag, value_text

if TYPE_CHECKING:
    import optuna

    from graft.strategies.base import Strategy

SPACE_SYNTAX = "KEY=LOW:HIGH or KEY=LOW:HIGH:log"


@dataclasses.dataclass(frozen=True)
class Param:
    """One searched option.

    Attributes:
        name: The option's field name (``weight_decay``).
        low: Smallest value tried.
        high: Largest value tried.
        log: Sampled on a log scale.
        integer: The option takes integers.
        origin: Where the range comes from: ``the engine``, ``strategy 'mcc'`` or ``--space``.
    """

    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False
    origin: str = ""

    def suggest(self, trial: optuna.Trial) -> float | int:
        """The trial's value of this option."""
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a number inside the range (a default worth trying first)."""
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return self.low <= value <= self.high

    def describe(self) -> str:
        """``0.0001..0.01 (log)``."""
        return f"{value_text(self.low)}..{value_text(self.high)}" + (" (log)" if self.log else "")

    def as_dict(self) -> dict[str, Any]:
        """The range as plain values (stored with the study, written in tune.md)."""
        return {"low": self.low, "high": self.high, "log": self.log, "integer": self.integer}


def search_space(
    strategy_cls: type[Strategy],
    fixed: Mapping[str, Any],
    overrides: Sequence[str] | Mapping[str, Any] | None = None,
    kind: str | None = None,
) -> dict[str, Param]:
    """The options a search varies for ``strategy_cls``, by field name.

    Args:
        strategy_cls: The registered strategy.
        fixed: The options the user fixed (name → value); they are not searched.
        overrides: ``--space`` texts (``lr=1e-4:1e-2:log``) or a mapping name → ``(low, high)``
            or ``(low, high, "log")``; each changes or adds a range.
        kind: The model's input kind, for a strategy with engine defaults of its own for it.

    Raises:
        ConfigError: An unknown key (with the closest one), a malformed or disallowed range,
            a key that is also fixed, or an empty space.
    """
    fixed_names = {k.replace("-", "_") for k in fixed}
    strategy_fixed = {k: v for k, v in fixed.items() if k.replace("-", "_") in _fields(strategy_cls.Config)}
    strategy_cfg = build_config(strategy_cls.Config, strategy_fixed, f"strategy '{strategy_cls.name}'")
    space = {p.name: p for p in declared_params(strategy_cls, strategy_cfg, kind) if p.name not in fixed_names}
    for param in parse_overrides(strategy_cls, overrides or ()):
        if param.name in fixed_names:
            raise ConfigError(
                f"--space {flag(param.name)[2:]} varies an option that is also fixed ({flag(param.name)} "
                f"{value_text(fixed.get(param.name, fixed.get(param.name.replace('_', '-'))))}). "
                f"Fix: drop one of the two."
            )
        space[param.name] = param
    if not space:
        raise ConfigError(
            f"Nothing to tune for strategy '{strategy_cls.name}': it declares no search ranges, or every one is "
            f"fixed on the command line. Fix: pass --space {SPACE_SYNTAX} (e.g. --space "
            f"{_example_key(strategy_cls)}=...), or fix fewer options."
        )
    return space


def declared_params(strategy_cls: type[Strategy], strategy_cfg: Any, kind: str | None = None) -> list[Param]:
    """The ranges the engine and the strategy declare, resolved against the strategy's defaults (for a
    model of input ``kind``, when the strategy has defaults of its own for it).

    Engine options the strategy ignores are left out; a relative range whose default is 0 or
    unset is left out (the strategy chose to go without it); a ``when`` that the strategy's
    options do not meet leaves its option out.
    """
    params = []
    engine_owner = "the engine"
    for name in _fields(TrainConfig):
        if name in strategy_cls.ignores_engine_options:
            continue
        default = strategy_cls.train_defaults_for(kind).get(name, default_of(TrainConfig, name))
        param = _declared(TrainConfig, name, default, None, engine_owner)
        if param is not None:
            params.append(param)
    owner = f"strategy '{strategy_cls.name}'"
    for name in _fields(strategy_cls.Config):
        param = _declared(strategy_cls.Config, name, getattr(strategy_cfg, name), strategy_cfg, owner)
        if param is not None:
            params.append(param)
    return params


def tunable_names(strategy_cls: type[Strategy]) -> list[str]:
    """Fields ``--space`` may name: the numeric options of the strategy and of the engine it uses.

    Data and model options (the split's fractions and seed) are not among them: a search must not
    move the test split.
    """
    names = [n for n in _fields(TrainConfig) if n not in strategy_cls.ignores_engine_options
             and _numeric(TrainConfig, n)]
    return names + [n for n in _fields(strategy_cls.Config) if _numeric(strategy_cls.Config, n) and n not in names]


def parse_overrides(strategy_cls: type[Strategy], overrides: Sequence[str] | Mapping[str, Any]) -> list[Param]:
    """``["lr=1e-4:1e-2:log"]`` or ``{"lr": (1e-4, 1e-2, "log")}`` → checked :class:`Param`\\ s."""
    items: Iterable[tuple[str, Any]]
    if isinstance(overrides, Mapping):
        items = overrides.items()
    else:
        items = [_split_text(text) for text in overrides]
    params: list[Param] = []
    for key, bounds in items:
        param = _override(strategy_cls, key, bounds)
        if any(p.name == param.name for p in params):
            raise ConfigError(f"--space names '{key}' twice; one range per option is searched. Fix: keep one "
                              f"--space {key}=LOW:HIGH.")
        params.append(param)
    return params


def _split_text(text: str) -> tuple[str, list[str]]:
    key, sep, rest = text.partition("=")
    parts = rest.split(":")
    if not sep or not key.strip() or len(parts) not in (2, 3):
        raise ConfigError(
            f"A --space value must be {SPACE_SYNTAX}. Got {text!r} instead. Fix: pass e.g. --space lr=1e-4:1e-2:log."
        )
    return key.strip(), [p.strip() for p in parts]


def _override(strategy_cls: type[Strategy], key: str, bounds: Any) -> Param:
    name = key.strip().lstrip("-").replace("-", "_")
    allowed = tunable_names(strategy_cls)
    if name not in allowed:
        shown = sorted(n.replace("_", "-") for n in allowed)
        raise ConfigError(
            f"Unknown --space key '{key}' for strategy '{strategy_cls.name}'."
            f"{did_you_mean(name.replace('_', '-'), shown)} Allowed: the numeric options of the strategy and the "
            f"engine: {', '.join(shown)}. Fix: pass --space {SPACE_SYNTAX} with one of them."
        )
    config = TrainConfig if name in _fields(TrainConfig) else strategy_cls.Config
    integer = _is_int(config, name)
    parts = list(bounds) if isinstance(bounds, (list, tuple)) else [bounds]
    scale = str(parts[2]).strip().lower() if len(parts) == 3 else "linear"
    text = f"{key}=" + ":".join(str(p) for p in parts)
    if len(parts) not in (2, 3) or scale not in ("log", "linear", "lin"):
        raise ConfigError(
            f"A --space value must be {SPACE_SYNTAX}. Got {text!r} instead. Fix: pass e.g. --space "
            f"{name.replace('_', '-')}=LOW:HIGH:log."
        )
    try:
        low, high = (_number(p, integer) for p in parts[:2])
    except ValueError:
        kind = "integers" if integer else "numbers"
        raise ConfigError(
            f"The bounds of --space {name.replace('_', '-')} must be {kind}. Got {text!r} instead. "
            f"Fix: pass e.g. --space {name.replace('_', '-')}=LOW:HIGH with {kind} LOW < HIGH."
        ) from None
    log = scale == "log"
    declared = declaration(config, name)
    problem = ""
    if not low < high:
        problem = "LOW must be smaller than HIGH"
    elif log and low <= 0:
        problem = "a log range needs LOW > 0"
    elif not (declared.accepts(low) and declared.accepts(high)):
        problem = f"both bounds must be allowed values of {flag(name)} ({declared.allowed()})"
    if problem:
        raise ConfigError(
            f"The range of --space {name.replace('_', '-')} is not usable: {problem}. Got {text!r} instead. "
            f"Fix: pass e.g. --space {name.replace('_', '-')}=LOW:HIGH{':log' if log else ''} with allowed "
            f"LOW < HIGH."
        )
    return Param(name, low, high, log, integer, "--space")


def _declared(config: type, name: str, default: Any, values: Any, owner: str) -> Param | None:
    search: Search | None = declaration(config, name).search
    if search is None:
        return None
    if values is not None and any(getattr(values, k, None) not in allowed for k, allowed in search.when.items()):
        return None
    low, high = search.low, search.high
    if search.relative:
        if not isinstance(default, (int, float)) or isinstance(default, bool) or default <= 0:
            return None
        low, high = low * default, high * default
    integer = _is_int(config, name)
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return Param(name, low, high, search.log, integer, owner)


def _number(text: Any, integer: bool) -> float | int:
    if isinstance(text, bool):  # True is no bound, though Python counts it as 1
        raise ValueError(text)  # the caller turns any unusable bound into one ConfigError
    if integer:
        value = float(text)
        if not value.is_integer():
            raise ValueError(text)
        return int(value)
    return float(text)


def _fields(config: type) -> list[str]:
    return [f.name for f in dataclasses.fields(config)]


def _hint(config: type, name: str) -> Any:
    hint = typing.get_type_hints(config)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) is not None and len(args) == 1 else hint


def _numeric(config: type, name: str) -> bool:
    return _hint(config, name) in (int, float)


def _is_int(config: type, name: str) -> bool:
    return bool(_hint(config, name) is int)


def _example_key(strategy_cls: type[Strategy]) -> str:
    names = tunable_names(strategy_cls)
    return (names[0] if names else "lr").replace("_", "-")
