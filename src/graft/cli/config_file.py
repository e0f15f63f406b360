"""``--config FILE.yaml`` on the commands that train: options from a file, the command line on top.

Two shapes are read:

- flat: ``name: value`` for the command's own options (``model``, ``data``, ``strategy`` ...)
  and any generated option (``lr``, ``epochs``, ``layer_decay`` ...), as ``graft tune`` writes
  ``best.yaml``;
- the ``config.yaml`` every run writes (its ``strategy_options`` and ``train`` sections, and the
  ``input_schema`` the run learned, which is fitted again from the same data): ``graft fit --config
  runs/x/config.yaml`` reruns that run.

An option given on the command line wins over the file. A key nobody declares is refused like a
mistyped option, with the closest name.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

from graft.errors import ConfigError, MissingPathError

#: Sections of a run's config.yaml that hold options.
NESTED = ("strategy_options", "train")
#: What a run's config.yaml records that is no option: what it learned, how it showed progress.
RECORDED = ("input_schema", "progress")


class _DuplicateKey(Exception):
    """A mapping key written twice in a YAML file."""


def _unique_keys_loader() -> Any:
    """A safe YAML loader that refuses a key written twice in one mapping (PyYAML keeps the last silently)."""
    import yaml

    class UniqueKeys(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                if not isinstance(key, Hashable):  # PyYAML's own error says what is wrong with it
                    continue
                if key in seen:
                    raise _DuplicateKey(f"the option '{key}' is written twice (lines {seen[key]} and {line}); "
                                        "graft would not know which to use. Allowed: each option once. Fix: keep "
                                        "one of them.")
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

    return UniqueKeys


def read_config_file(path: Path) -> dict[str, Any]:
    """The options of ``path`` as one flat mapping, names with underscores.

    Raises:
        MissingPathError: No such file.
        ConfigError: Not YAML, or not a mapping of options.
    """
    import yaml

    if path.is_dir():
        raise ConfigError(f"--config '{path}' is a folder, not a file. Fix: pass a YAML file of options (e.g. "
                          f"{path / 'config.yaml'} when it is a run).")
    if not path.is_file():
        raise MissingPathError(f"--config '{path}' does not exist. Fix: pass a YAML file of options "
                               "(e.g. a run's config.yaml, or the best.yaml of graft tune).")
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_unique_keys_loader())  # a SafeLoader
    except _DuplicateKey as err:
        raise ConfigError(f"--config '{path}': {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config '{path}' is not a UTF-8 text file. Allowed: a YAML file of options. Fix: pass "
                          "a YAML file (e.g. a run's config.yaml) with one 'name: value' per line.") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"--config '{path}' is not valid YAML{at}. Fix: write one 'name: value' per line.") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"--config '{path}' must hold a mapping of options (name: value). Got a "
                          f"{type(loaded).__name__} instead. Fix: write one 'name: value' per line.")
    flat: dict[str, Any] = {}
    for key, value in loaded.items():
        name = str(key).replace("-", "_")
        if name in NESTED and isinstance(value, Mapping):
            for inner, inner_value in value.items():
                inner_name = str(inner).replace("-", "_")
                if inner_name in flat and flat[inner_name] != inner_value:
                    raise ConfigError(f"--config '{path}': the option '{inner}' is given twice with different "
                                      f"values ({flat[inner_name]!r} and {inner_value!r}, the second under "
                                      f"'{key}:'). Allowed: each option once. Fix: keep one of them.")
                flat[inner_name] = inner_value
        elif name in NESTED and value is not None:
            raise ConfigError(f"--config '{path}': '{key}' must be a mapping of options (name: value, indented "
                              f"under it, as in a run's config.yaml). Got {value!r}. Fix: indent the options under "
                              f"'{key}:', or write them at the top level.")
        elif name not in RECORDED:
            if name in flat and flat[name] != value:
                raise ConfigError(f"--config '{path}': the option '{key}' is given twice with different values "
                                  f"({flat[name]!r} and {value!r}). Allowed: each option once. Fix: keep one of them.")
            flat[name] = value
    for name in RECORDED:
        flat.pop(name, None)
    return flat


def apply_config_file(
    ctx: Any,
    path: Path | None,
    named: dict[str, Any],
    extra: dict[str, Any],
    *,
    aliases: Mapping[str, str] | None = None,
    lists: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Merge the file's options under the command line's.

    Args:
        ctx: The click context (tells which named options came from the command line).
        path: The ``--config`` file, or None.
        named: The command's own options as parsed (defaults included).
        extra: The generated options from the command line.
        aliases: File key → the command's option (``strategy`` → ``strategies`` for compare).
        lists: Named options the command takes as comma-separated text (a YAML list is joined).

    Returns:
        The named options and the generated options, file values filled in where the command line
        was silent.
    """
    if path is None:
        return named, extra
    named, extra = dict(named), dict(extra)
    joined = set(lists)
    for key, value in read_config_file(path).items():
        key = (aliases or {}).get(key, key)
        if key in named:
            if not _from_command_line(ctx, key):
                named[key] = ",".join(_text(v) for v in value) if key in joined and isinstance(value, list) else (
                    _text(value) if key in joined else value)
        elif key not in extra:
            extra[key] = value
    return named, extra


def require(named: Mapping[str, Any], *names: str) -> None:
    """Refuse a run without an option that neither the command line nor the file gave."""
    for name in names:
        if named.get(name) in (None, [], ()):
            raise ConfigError(f"Missing option '--{name.replace('_', '-')}'. Fix: pass --{name.replace('_', '-')} "
                              f"SPEC, or set '{name}:' in the --config file.")


def _from_command_line(ctx: Any, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def _text(value: Any) -> str:
    return "all" if value is None else str(value)
