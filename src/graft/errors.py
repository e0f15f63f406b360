"""graft's exception types.

Every user mistake raises one of these with a message that says what was wrong,
what was received, what is allowed and how to fix it. The CLI prints the message
on one line and exits non-zero, without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GraftError(Exception):
    """Base class of the errors graft raises for a user mistake."""


class SpecError(GraftError, ValueError):
    """A model, data or strategy spec that cannot be understood."""


class ConfigError(GraftError, ValueError):
    """An option value that is out of range or inconsistent with another."""


class DataError(GraftError, ValueError):
    """Data that cannot be used: empty, unreadable, a single class, ..."""


class CheckpointError(GraftError, ValueError):
    """A checkpoint or weights file that does not fit, or is missing."""


class MissingPathError(GraftError, FileNotFoundError):
    """A path the user named does not exist."""


def did_you_mean(name: str, allowed: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest allowed name, or ''."""
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


def unknown_name(kind: str, name: str, allowed: Iterable[str], fix: str = "") -> SpecError:
    """Build the error for a name that is not in a registry."""
    allowed = sorted(allowed)
    msg = f"Unknown {kind} '{name}'.{did_you_mean(name, allowed)} Allowed: {', '.join(allowed)}."
    if fix:
        msg += f" {fix}"
    return SpecError(msg)
