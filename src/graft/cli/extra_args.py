"""Parsing the generated options (``--layer-decay 0.7``) that follow a command."""

from __future__ import annotations

from typing import Any

from graft.errors import ConfigError


def parse_extra_args(args: list[str]) -> dict[str, Any]:
    """``["--lr", "1e-3", "--no-lp-init", "--head=svm"]`` → ``{"lr": "1e-3", "lp_init": "false", "head": "svm"}``.

    Values stay strings; the config dataclasses convert and validate them.
    """
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) < 3:
            raise ConfigError(
                f"Unexpected argument '{arg}'. Options are written --name value (e.g. --epochs 10). "
                "Fix: check the spelling or quote values that contain spaces."
            )
        name = arg[2:]
        if "=" in name:
            name, value = name.split("=", 1)
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = args[i + 1]
            i += 1
        elif name.startswith("no-"):
            name, value = name[3:], "false"
        else:
            value = "true"
        out[name.replace("-", "_")] = value
        i += 1
    return out


def parse_int_list(text: str, option: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]``."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"The '{option}' option takes comma-separated integers such as 0,1,2. Got '{text}' instead. Fix: pass "
            f"e.g. {option} 0,1,2."
        ) from None
    if not values:
        raise ConfigError(f"The '{option}' option needs at least one value. Got '{text}'. Fix: pass e.g. "
                          f"{option} 0,1,2.")
    return values


def parse_k_list(text: str | None) -> int | list[int | None] | None:
    """``None`` → None; ``"5,10,all"`` → ``[5, 10, None]``."""
    if text is None:
        return None
    out: list[int | None] = []
    for v in text.split(","):
        v = v.strip().lower()
        if v in ("all", "none"):
            out.append(None)
        elif v.isdigit() and int(v) > 0:
            out.append(int(v))
        else:
            raise ConfigError(f"--labels-per-class takes positive integers or 'all', e.g. 5,10,all. Got '{v}'. "
                              "Fix: pass e.g. -k 5,10,all.")
    return out
