"""Options declared once, next to their config field, and everything derived from that.

Every field of an option dataclass (the engine's :class:`~graft.engine.config.TrainConfig`,
:class:`~graft.run_options.RunOptions`, each strategy's ``Config``) is declared with
:func:`option`: its default, a one-line help and the values it allows. From that one
declaration graft derives the command line (``--layer-decay 0.7`` sets ``layer_decay``),
the conversion of strings to the field's type, validation before any work starts,
``graft list --options``, ``graft fit --help`` and ``docs/options.md``.

Example:
    >>> @dataclasses.dataclass
    ... class ProbeConfig(Options):
    ...     C: float | None = option(None, help="Inverse regularisation strength.", gt=0,
    ...                              example=1.0, unset="pick C on validation")
    >>> build_config(ProbeConfig, {"C": "0.5"}, "strategy 'probe'").C
    0.5
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar, Union

from graft.errors import ConfigError, did_you_mean

C = TypeVar("C")

#: Key of a field's declaration in ``dataclasses.Field.metadata``.
OPTION_KEY = "graft.option"

Choices = tuple[str, ...] | Callable[[], Iterable[str]]


@dataclasses.dataclass(frozen=True)
class Search:
    """The range ``graft tune`` searches for a numeric option, declared next to its field.

    Attributes:
        low: Smallest value tried.
        high: Largest value tried.
        log: Sample on a log scale (learning rates, weights spanning decades).
        relative: ``low`` and ``high`` are multiples of the option's default (a strategy's
            ``train_defaults`` included), so one declaration fits an SGD and an AdamW
            strategy; an option whose default is 0 or unset is then not searched.
        when: Search the option only while other options of the same config have one of
            these values (``{"adapter": ("lora",)}``: a LoRA rank means nothing without LoRA).

    Example:
        >>> Search(1e-5, 1e-2, log=True).describe()
        '1e-05..0.01 (log)'
    """

    low: float
    high: float
    log: bool = False
    relative: bool = False
    when: Mapping[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        """The range in words: ``1e-05..0.01 (log)``, ``0.1..10 × default``."""
        text = f"{_num(self.low)}..{_num(self.high)}" + (" × default" if self.relative else "")
        return text + (" (log)" if self.log else "")


@dataclasses.dataclass(frozen=True)
class Option:
    """The declaration of one option: what it does and which values it allows.

    Attributes:
        help: One line for ``--help``, ``graft list --options`` and the docs.
        ge: Smallest allowed value (numbers; each element of a list).
        gt: Values must be greater than this.
        le: Largest allowed value.
        lt: Values must be smaller than this.
        choices: Allowed names, or a function returning them (a registry, read when
            needed so declaring an option imports nothing).
        pattern: Regular expression a text value must match in full.
        allowed_text: How the allowed values read, for a ``pattern`` ("'all' or 'last-N'").
        example: A valid value for the "Fix: pass e.g." part of an error, when the
            default cannot serve (it is None or out of range).
        unset: What leaving an optional option unset (None) does, e.g. "pick C on validation".
        search: The range ``graft tune`` searches by default (None: not searched unless
            ``--space`` names it).
    """

    help: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: Choices | None = None
    pattern: str | None = None
    allowed_text: str | None = None
    example: Any = None
    unset: str | None = None
    search: Search | None = None

    def names(self) -> tuple[str, ...]:
        """The allowed names (empty when the option has no choices)."""
        if self.choices is None:
            return ()
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def allowed(self) -> str:
        """The allowed values in words: ``> 0``, ``in [0, 1)``, ``one of a, b``; '' for any."""
        if self.allowed_text:
            return self.allowed_text
        if self.choices is not None:
            return "one of " + ", ".join(self.names())
        low = (f"[{_num(self.ge)}" if self.ge is not None else f"({_num(self.gt)}"
               if self.gt is not None else None)
        high = (f"{_num(self.le)}]" if self.le is not None else f"{_num(self.lt)})"
                if self.lt is not None else None)
        if low and high:
            return f"in {low}, {high}"
        if low:
            return (">= " if self.ge is not None else "> ") + low[1:]
        if high:
            return ("<= " if self.le is not None else "< ") + high[:-1]
        return ""

    def accepts(self, value: Any) -> bool:
        """Whether one (non-None, correctly typed) value meets the declared constraints."""
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            number = float(value)
            if math.isnan(number):
                return False
            if self.ge is not None and not number >= self.ge:
                return False
            if self.gt is not None and not number > self.gt:
                return False
            if self.le is not None and not number <= self.le:
                return False
            if self.lt is not None and not number < self.lt:
                return False
        if isinstance(value, str):
            if self.choices is not None and value not in self.names():
                return False
            if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
                return False
        return True


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Choices | None = None,
    pattern: str | None = None,
    allowed_text: str | None = None,
    example: Any = None,
    unset: str | None = None,
    search: Search | None = None,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
) -> Any:
    """Declare a config field as an option; see :class:`Option` for the arguments.

    The type comes from the field's annotation. Returns a ``dataclasses.field`` that
    carries the declaration in its metadata.
    """
    declared = Option(help=help, ge=ge, gt=gt, le=le, lt=lt, choices=choices, pattern=pattern,
                      allowed_text=allowed_text, example=example, unset=unset, search=search)
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={OPTION_KEY: declared})
    return dataclasses.field(default=default, metadata={OPTION_KEY: declared})


class Options:
    """Base of option dataclasses: :meth:`validate` checks every field against its declaration.

    A config with rules that tie fields together overrides ``validate``, calls
    ``super().validate(owner)`` first, then checks them.
    """

    #: Who owns the options in error messages, when the caller does not say.
    option_owner: ClassVar[str] = "graft"

    def validate(self, owner: str | None = None) -> None:
        """Raise ConfigError for a value of the wrong type, out of range or not allowed.

        Args:
            owner: Who owns the options, for messages ("strategy 'finetune'").
        """
        check_declared(self, owner or self.option_owner)


def declaration(cls: type, name: str) -> Option:
    """The declaration of field ``name``; a subclass that only changes a default inherits
    the declaration of the base class that declared the field."""
    for klass in cls.__mro__:
        field = getattr(klass, "__dataclass_fields__", {}).get(name)
        if field is not None and OPTION_KEY in field.metadata:
            return field.metadata[OPTION_KEY]
    raise TypeError(f"{cls.__name__}.{name} is not declared with graft.options.option(...)")


def field_names(*classes: type) -> list[str]:
    """All field names of the given dataclasses."""
    return [f.name for cls in classes for f in dataclasses.fields(cls)]


def flag(name: str) -> str:
    """``layer_decay`` → ``--layer-decay``."""
    return "--" + name.replace("_", "-")


def build_config(cls: type[C], options: Mapping[str, Any], owner: str) -> C:
    """Instantiate dataclass ``cls`` from ``options``, converted to the fields' types and validated.

    Args:
        cls: The config dataclass.
        options: Field name (dashes or underscores) → value (a command-line string or a value).
        owner: Who owns the options, for error messages ("strategy 'finetune'").

    Raises:
        ConfigError: An unknown option, or a value of the wrong type, out of range or not allowed.
    """
    hints = typing.get_type_hints(cls)
    names = field_names(cls)
    kwargs = {}
    for key, value in options.items():
        name = key.replace("-", "_")
        if name not in names:
            raise unknown_option(key, names, owner)
        fix = _fix(name, declaration(cls, name), default_of(cls, name))
        kwargs[name] = convert(value, hints[name], name, owner, fix)
    config = cls(**kwargs)
    if isinstance(config, Options):
        config.validate(owner)
    return config


def unknown_option(key: str, known: Iterable[str], owner: str) -> ConfigError:
    """The error for an option name that nobody declares (with the closest known name)."""
    allowed = sorted({k.replace("_", "-") for k in known})
    given = key.replace("_", "-")
    elsewhere = _strategies_declaring(key.replace("-", "_"))
    if elsewhere:
        hint = f" --{given} is an option of {', '.join(elsewhere)}."
        fix = f"drop --{given}, or train with a strategy that declares it (--strategy {elsewhere[0]})."
    else:
        hint = did_you_mean(given, allowed)
        fix = f"drop --{given} or correct its name (graft list --options STRATEGY lists a strategy's own)."
    return ConfigError(
        f"Unknown option '{given}' for {owner}.{hint} "
        f"Allowed: {', '.join('--' + a for a in allowed)}. Fix: {fix}"
    )


def _strategies_declaring(name: str) -> list[str]:
    """Registered strategies whose config has the field ``name`` (a right option, wrong strategy)."""
    try:
        from graft.strategies import STRATEGIES
    except ImportError:  # pragma: no cover - during graft's own import
        return []
    return [s for s in STRATEGIES if name in {f.name for f in dataclasses.fields(STRATEGIES.get(s).Config)}]


def check_declared(config: Any, owner: str) -> None:
    """Check every field of ``config`` against its type and declaration.

    Raises:
        ConfigError: The first field whose value is not allowed.
    """
    cls = type(config)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(config):
        check_value(cls, field.name, getattr(config, field.name), owner, hint=hints[field.name])


def check_value(cls: type, name: str, value: Any, owner: str, *, hint: Any = None) -> None:
    """Check one value of field ``name`` of ``cls`` against its type and declaration."""
    declared = declaration(cls, name)
    hint = typing.get_type_hints(cls)[name] if hint is None else hint
    default = default_of(cls, name)
    if not type_matches(value, hint):
        raise _wrong_type(name, owner, hint, value, _fix(name, declared, default))
    items = value if isinstance(value, (tuple, list)) else (value,)
    for item in items:
        if item is not None and not declared.accepts(item):
            hint_text = did_you_mean(item, declared.names()) if declared.choices and isinstance(item, str) else ""
            raise _invalid(name, owner, declared.allowed(), value, declared, default, hint_text)


def convert(value: Any, hint: Any, name: str, owner: str = "", fix: str = "") -> Any:
    """Convert ``value`` (often a string from the command line) to type ``hint``.

    Values that are not strings are returned as they are (lists become tuples for
    tuple fields); their type is checked by :func:`check_value`. ``owner`` and ``fix``
    complete the error message of a value that cannot be converted.
    """
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        unset = value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", ""))
        if unset and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(value, arg, name, owner, fix)
            except ConfigError:
                continue
        raise _wrong_type(name, owner, hint, value, fix)
    if not isinstance(value, str):
        if origin is tuple and isinstance(value, list):
            return tuple(value)
        return value
    text = value.strip()
    try:
        if hint is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
        if origin is tuple:
            inner = args[0] if args else str
            return tuple(convert(v.strip(), inner, name, owner, fix) for v in text.split(",") if v.strip())
    except (ValueError, ConfigError):
        raise _wrong_type(name, owner, hint, value, fix) from None
    return value


def type_matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the annotated type (an int serves for a float; a bool is no number)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(type_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        items = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return isinstance(value, tuple) and all(type_matches(v, items[0] if items else Any) for v in value)
    return isinstance(value, hint) if isinstance(hint, type) else True


def type_text(hint: Any) -> str:
    """The annotation in words: ``int``, ``float or none``, ``list of str``."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        named = [type_text(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or none" if type(None) in args else "")
    if origin is tuple:
        items = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return f"list of {type_text(items[0]) if items else 'values'}"
    return getattr(hint, "__name__", str(hint))


def value_text(value: Any) -> str:
    """A value as the user would type it: ``1e-3``, ``true``, ``a,b``, ``none``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, (tuple, list)):
        return ",".join(value_text(v) for v in value)
    return str(value)


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls`` (None when it has none)."""
    field = cls.__dataclass_fields__[name]  # type: ignore[attr-defined]
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _example(declared: Option, default: Any) -> Any:
    if declared.example is not None:
        return declared.example
    items = default if isinstance(default, (tuple, list)) else (default,)
    if default is not None and all(declared.accepts(v) for v in items):
        return default
    return None


def _of(owner: str) -> str:
    return f" of {owner}" if owner else ""


def _got(value: Any) -> str:
    return repr(value) if isinstance(value, str) else value_text(value) if isinstance(value, (tuple, list)) \
        else str(value)


def _fix(name: str, declared: Option, default: Any) -> str:
    example = _example(declared, default)
    # An option whose default is set is unset by passing "none"; otherwise by leaving it out.
    how = "leave it out" if default is None else f"pass {flag(name)} none"
    unset = f", or {how} to {declared.unset}" if declared.unset else ""
    if isinstance(example, bool):
        return f" Fix: pass {flag(name)} or --no-{flag(name)[2:]}."
    if example is None:
        return f" Fix: {how} to {declared.unset}." if declared.unset else ""
    return f" Fix: pass e.g. {flag(name)} {value_text(example)}{unset}."


def _invalid(name: str, owner: str, allowed: str, value: Any, declared: Option, default: Any,
             suggestion: str = "") -> ConfigError:
    message = f"The '{flag(name)}' option{_of(owner)} must be {allowed}. Got {_got(value)} instead."
    return ConfigError(message + suggestion + _fix(name, declared, default))


def _wrong_type(name: str, owner: str, hint: Any, value: Any, fix: str) -> ConfigError:
    return ConfigError(
        f"The '{flag(name)}' option{_of(owner)} must be of type {type_text(hint)}. Got {value!r} instead.{fix}"
    )


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


#: Seeds numpy and torch both take.
SEED_RANGE = (0, 2**32 - 1)


def check_seeds(seeds: Iterable[Any], option: str = "--seed") -> list[int]:
    """Each seed an integer in :data:`SEED_RANGE`, none repeated (a repeated seed is the same run twice)."""
    out: list[int] = []
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or \
                not SEED_RANGE[0] <= int(seed) <= SEED_RANGE[1]:
            raise ConfigError(f"The '{option}' option takes integers in [{SEED_RANGE[0]}, {SEED_RANGE[1]}]. Got "
                              f"{seed!r} instead. Fix: pass e.g. {option} 0.")
        if int(seed) in out:
            raise ConfigError(f"The '{option}' option names seed {seed} twice; its runs would be the same run, "
                              f"counted twice in the mean. Fix: pass distinct seeds, e.g. {option} 0,1,2.")
        out.append(int(seed))
    return out
