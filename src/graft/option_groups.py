"""The option groups a strategy run takes (the strategy's, the engine's, the data and
model options) and the checks that need all of them at once.

``graft list --options``, ``--help`` and ``docs/options.md`` render :func:`option_rows`;
the API and the CLI sort loose options with :func:`split_options` and refuse options
that would have no effect with :func:`check_unused`. Nothing here names a strategy.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from graft.engine.config import TrainConfig
from graft.errors import ConfigError
from graft.options import build_config, declaration, default_of, flag, type_text, unknown_option, value_text
from graft.run_options import RunOptions

if TYPE_CHECKING:
    from graft.strategies.base import Strategy

ENGINE_TITLE = "Engine options"
DATA_MODEL_TITLE = "Data and model options"


@dataclasses.dataclass(frozen=True)
class OptionGroup:
    """One config class as a group of options.

    Attributes:
        title: Heading in listings ("Engine options").
        config: The config dataclass.
        owner: Who owns the options in error messages ("the engine").
        defaults: Defaults that replace the fields' own (a strategy's ``train_defaults``).
        kind_defaults: Defaults for one input kind of the model (``kind_train_defaults``).
    """

    title: str
    config: type
    owner: str
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    kind_defaults: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class OptionRow:
    """One option as listings show it; every part comes from the field's declaration.

    Attributes:
        name: The flag, ``--layer-decay``.
        type: The type in words, ``float or none``.
        default: The default as typed on the command line, ``0.8``.
        unset: What the default ``none`` means ("pick C on validation"), or ''.
        allowed: The allowed values in words, ``in (0, 1]``, or ''.
        help: The one-line help.
    """

    name: str
    type: str
    default: str
    unset: str
    allowed: str
    help: str

    @property
    def default_text(self) -> str:
        """The default with what it means when unset: ``none (pick C on validation)``."""
        return f"{self.default} ({self.unset})" if self.unset else self.default


def strategy_owner(strategy_cls: type[Strategy]) -> str:
    """``strategy 'finetune'``: who owns a strategy's options in messages."""
    return f"strategy '{strategy_cls.name}'"


def shared_groups(engine_defaults: Mapping[str, Any] | None = None,
                  kind_defaults: Mapping[str, Mapping[str, Any]] | None = None) -> list[OptionGroup]:
    """The engine's options and the data and model options, which every strategy takes."""
    return [OptionGroup(ENGINE_TITLE, TrainConfig, "the engine", dict(engine_defaults or {}),
                        dict(kind_defaults or {})),
            OptionGroup(DATA_MODEL_TITLE, RunOptions, RunOptions.option_owner)]


def option_groups(strategy_cls: type[Strategy]) -> list[OptionGroup]:
    """The strategy's own options, then the engine's (with the strategy's defaults), then data/model."""
    own = OptionGroup(f"Options of {strategy_cls.name}", strategy_cls.Config, strategy_owner(strategy_cls))
    return [own, *shared_groups(strategy_cls.train_defaults, strategy_cls.kind_train_defaults)]


def option_rows(config: type, defaults: Mapping[str, Any] | None = None,
                kind_defaults: Mapping[str, Mapping[str, Any]] | None = None) -> list[OptionRow]:
    """Name, type, default, allowed values and help of every option of ``config``; a default that
    differs for one input kind of the model (``kind_defaults``) says so beside the general one."""
    defaults = defaults or {}
    hints = typing.get_type_hints(config)
    rows = []
    for field in dataclasses.fields(config):
        declared = declaration(config, field.name)
        default = defaults[field.name] if field.name in defaults else default_of(config, field.name)
        unset = (declared.unset or "") if default is None else ""
        kinds = [f"{value_text(own[field.name])} for {kind_model(kind)}" for kind, own in (kind_defaults or {}).items()
                 if field.name in own and own[field.name] != default]
        unset = "; ".join(filter(None, [unset, *kinds]))
        rows.append(OptionRow(flag(field.name), type_text(hints[field.name]), value_text(default), unset,
                              declared.allowed(), declared.help))
    return rows


def split_options(
    strategy_cls: type[Strategy], options: Mapping[str, Any], *, named: Iterable[str] = ()
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Sort loose options into (data/model, strategy, engine) options, by field name.

    Args:
        strategy_cls: The strategy whose ``Config`` takes its own options.
        options: Option name (dashes or underscores) → value.
        named: The command's or function's own named options (``labels_per_class``), which
            are valid names too: a typo of one is suggested like any other.

    Raises:
        ConfigError: An option nobody declares, with the closest valid name.
    """
    run_fields = {f.name for f in dataclasses.fields(RunOptions)}
    strategy_fields = {f.name for f in dataclasses.fields(strategy_cls.Config)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    run: dict[str, Any] = {}
    strategy: dict[str, Any] = {}
    train: dict[str, Any] = {}
    for key, value in options.items():
        name = key.replace("-", "_")
        if name in run_fields:
            run[name] = value
        elif name in strategy_fields:
            strategy[name] = value
        elif name in train_fields:
            train[name] = value
        else:
            known = run_fields | strategy_fields | train_fields | {n.replace("-", "_") for n in named}
            raise unknown_option(key, known, strategy_owner(strategy_cls))
    return run, strategy, train


def check_unused(strategy_cls: type[Strategy], train_opts: Mapping[str, Any]) -> None:
    """Refuse engine options the user gave that would have no effect.

    Two cases: options the strategy ignores (its ``ignores_engine_options``: a
    strategy that does not train in the engine's loop), and a warm-up that is not
    shorter than the run (the schedule would never apply). Only options the user
    passed count, not the strategy's defaults: pass the user's engine options only.

    Args:
        strategy_cls: The strategy.
        train_opts: The engine options the user passed (name → value, strings allowed).

    Raises:
        ConfigError: Naming the options, what the strategy takes instead, and the fix.
    """
    given = {k.replace("-", "_") for k in train_opts}
    ignored = sorted(given & strategy_cls.ignores_engine_options)
    if ignored:
        flags = ", ".join(flag(n) for n in ignored)
        own = ", ".join(flag(f.name) for f in dataclasses.fields(strategy_cls.Config))
        verb = "does" if len(ignored) == 1 else "do"
        raise ConfigError(
            f"{flags} {verb} not apply to {strategy_owner(strategy_cls)}: it does not train in the engine's "
            f"loop, so {'this option has' if len(ignored) == 1 else 'these options have'} no effect. "
            f"Its options are {own} (graft list --options {strategy_cls.name}). Fix: drop {flags}."
        )
    if "warmup_epochs" in given:
        _check_warmup(strategy_cls, train_opts)


def _check_warmup(strategy_cls: type[Strategy], train_opts: Mapping[str, Any]) -> None:
    # Checked only when the user chose the warm-up: a strategy's default warm-up with a
    # short --epochs is the strategy's choice, not a contradiction the user wrote.
    cfg = build_config(TrainConfig, {**strategy_cls.train_defaults, **train_opts}, "the engine")
    if cfg.warmup_epochs > 0 and cfg.warmup_epochs >= cfg.epochs:
        raise ConfigError(
            f"The '--warmup-epochs' option of the engine must be shorter than --epochs ({cfg.epochs}): the "
            f"whole run would be warm-up and --schedule {cfg.schedule} would never apply. "
            f"Got {value_text(cfg.warmup_epochs)} instead. Fix: pass e.g. --warmup-epochs "
            f"{value_text(round(cfg.epochs / 10, 2))}, or --epochs above {value_text(cfg.warmup_epochs)}."
        )


def without_ignored(strategy_cls: type[Strategy], options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` less the engine options the strategy ignores.

    For commands that share one set of options among several strategies (``compare``,
    ``demo``): ``--epochs 5`` is meant for the strategies that train in the loop, so it
    is dropped for one that does not, rather than refused as :func:`check_unused` does.
    """
    return {k: v for k, v in options.items() if k.replace("-", "_") not in strategy_cls.ignores_engine_options}


def kind_model(kind: str) -> str:
    """"an image model", "a text model": a model of input ``kind`` in words."""
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind} model"


def strategy_entry(text: str, what: str = "--strategies") -> tuple[str, dict[str, str]]:
    """One entry of a list of strategies, ``NAME`` or ``NAME:OPTION=VALUE[:OPTION=VALUE...]`` (options of that
    entry alone, as on the command line: ``dann:mcc-weight=1``) → (name, {field name: value}).

    Raises:
        ConfigError: An option without ``=VALUE``, or an empty name or option.
    """
    name, *pairs = text.strip().split(":")
    options: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not (name and key.strip() and eq and value.strip()):
            raise ConfigError(
                f"The strategy '{text}' in {what} is not NAME or NAME:OPTION=VALUE. Got '{pair}' where an "
                "OPTION=VALUE belongs. Allowed: a strategy name, then options of that strategy alone, each as "
                "':option=value'. Fix: write e.g. dann:mcc-weight=1 (or dann:mcc-weight=1:trade-off=0.5)."
            )
        options[key.strip().lstrip("-").replace("-", "_")] = value.strip()
    return name, options


def with_entry_options(options: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """The options shared by every entry of a list of strategies, with one entry's own (from
    :func:`strategy_entry`) winning over them whatever their spelling (dashes or underscores)."""
    return {**{key.replace("-", "_"): value for key, value in options.items()}, **own}
