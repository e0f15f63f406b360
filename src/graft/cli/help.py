"""``--help`` of the commands that train: the named options, then every generated option.

The engine's and the data/model options are not click parameters (they are parsed
from the extra arguments and converted by their config dataclasses), so click cannot
list them; this command class appends them, rendered from the same declarations as
``graft list --options`` and ``docs/options.md``.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from typer.core import TyperCommand

from graft.option_groups import OptionRow, option_rows, shared_groups

STRATEGY_OPTIONS_HINT = "Strategy options: graft list --options STRATEGY (e.g. graft list --options finetune)."


class GeneratedOptionsCommand(TyperCommand):
    """A typer command whose help also lists the engine and data/model options."""

    # Typed Any: typer ships its own copy of click, whose classes these are.
    def format_help(self, ctx: Any, formatter: Any) -> None:
        # Typer prints its rich help straight to the terminal; what is written to the
        # formatter is printed after it, so the generated sections come last either way.
        super().format_help(ctx, formatter)
        own = {opt for param in self.params for opt in getattr(param, "opts", ())}
        write_generated_options(formatter, own)


def write_generated_options(formatter: Any, own: Set[str] = frozenset()) -> None:
    """Write the engine and data/model options as help sections, then where the strategy's are.

    ``own``: the command's own flags; a generated option of the same name is not listed (the
    command's own takes the flag: ``graft rank --batch-size`` is feature extraction's batch)."""
    shadowed = []
    for group in shared_groups():
        rows = option_rows(group.config, group.defaults, group.kind_defaults)
        shadowed += [row.name for row in rows if row.name in own]
        with formatter.section(group.title):
            formatter.write_dl([_term(row) for row in rows if row.name not in own])
    formatter.write_paragraph()
    if shadowed:
        formatter.write_text(f"Not listed: {', '.join(shadowed)}, this command's own option(s) above; the "
                             "generated option(s) of the same name keep their defaults here.")
        formatter.write_paragraph()
    formatter.write_text("Engine defaults shown are the engine's own; each strategy sets some of its own. "
                         + STRATEGY_OPTIONS_HINT)


def _term(row: OptionRow) -> tuple[str, str]:
    name = f"{row.name} / --no-{row.name[2:]}" if row.type == "bool" else f"{row.name} {_metavar(row.type)}"
    facts = [f"default: {row.default_text}"] + ([row.allowed] if row.allowed else [])
    return name, f"{row.help} [{'; '.join(facts)}]"


def _metavar(type_text: str) -> str:
    """``float or none`` → ``FLOAT|NONE``; ``list of str`` → ``STR,...``."""
    parts = []
    for part in type_text.split(" or "):
        parts.append(part.removeprefix("list of ").upper() + ",..." if part.startswith("list of ") else part.upper())
    return "|".join(parts)
