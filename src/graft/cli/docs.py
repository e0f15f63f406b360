"""``docs/options.md``: every option's table, generated from the option declarations.

Regenerate with ``python -m graft.cli.docs > docs/options.md``; a test fails while the
file disagrees with the code, so the docs cannot drift from the declarations.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from graft.option_groups import DATA_MODEL_TITLE, ENGINE_TITLE, OptionRow, kind_model, option_rows, shared_groups
from graft.options import flag, value_text

HEADER = """# graft options

Generated from the option declarations in the code by `python -m graft.cli.docs > docs/options.md`;
do not edit by hand. The same declarations drive validation, `graft list --options STRATEGY` and
`graft fit --help`. On the command line an option is `--name value` (`--no-name` for a false
switch); in the Python API it is a keyword argument (`graft.fit(..., layer_decay=0.7)`).
"""


def options_markdown() -> str:
    """The whole of ``docs/options.md``."""
    from graft.strategies import STRATEGIES

    engine, data = shared_groups()
    parts = [HEADER,
             f"## {ENGINE_TITLE}\n\nHow the engine trains, for every strategy. Defaults are the engine's own; "
             "each strategy changes some (listed under the strategy).\n\n" + markdown_table(option_rows(engine.config))
             + "\n",
             f"## {DATA_MODEL_TITLE}\n\nHow data is split and loaded and how the model is built, for every "
             "strategy.\n\n" + markdown_table(option_rows(data.config)) + "\n"]
    for name, help_ in STRATEGIES.describe().items():
        cls = STRATEGIES.get(name)
        section = [f"## Strategy `{name}`", "", help_[:1].upper() + help_[1:] + ".", "",
                   markdown_table(option_rows(cls.Config))]
        if cls.train_defaults:
            section += ["", "Engine defaults of this strategy: " + _defaults(cls.train_defaults) + "."]
        for kind, own in cls.kind_train_defaults.items():
            section += ["", f"For {kind_model(kind)} instead: " + _defaults(own) + "."]
        section += ["", "`graft tune` searches (unless fixed; `--space` changes them): " + _ranges(cls) + "."]
        if cls.ignores_engine_options:
            ignored = ", ".join(f"`{flag(n)}`" for n in sorted(cls.ignores_engine_options))
            section += ["", f"It does not train in the engine's loop: {ignored} do not apply and are refused."]
        parts.append("\n".join(section) + "\n")
    from graft.self_supervised import SELF_SUPERVISED

    for name, help_ in SELF_SUPERVISED.describe().items():
        cls = SELF_SUPERVISED.get(name)
        section = [f"## Pretraining method `{name}` (`graft pretrain --method {name}`)", "",
                   help_[:1].upper() + help_[1:] + "; no labels needed.", ""]
        rows = option_rows(cls.Config)
        section += [markdown_table(rows) if rows else "No options of its own."]
        section += ["", "Engine defaults of this method: " + _defaults(cls.train_defaults) + "."]
        parts.append("\n".join(section) + "\n")
    return "\n".join(parts)


def markdown_table(rows: list[OptionRow]) -> str:
    """A Markdown table of option rows."""
    lines = ["| option | type | default | allowed | help |", "|---|---|---|---|---|"]
    for row in rows:
        default = f"`{row.default}`" + (f" ({row.unset})" if row.unset else "")
        cells = [f"`{row.name}`", row.type, default, row.allowed, row.help]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _defaults(defaults: Mapping[str, Any]) -> str:
    return ", ".join(f"`{flag(k)} {value_text(v)}`" for k, v in defaults.items())


def _ranges(strategy_cls: Any) -> str:
    """The strategy's search space as declared (the engine's ranges resolved to its defaults)."""
    from graft.tuning.space import declared_params

    params = declared_params(strategy_cls, strategy_cls.Config())
    return ", ".join(f"`{flag(p.name)}` {p.describe()}" for p in params) or "nothing declared"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    sys.stdout.write(options_markdown())
