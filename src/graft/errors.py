"""graft's exception types.

Every user mistake raises one of these with a message that says what was wrong,
what was received, what is allowed and how to fix it. The CLI prints the message
on one line and exits non-zero, without a traceback.
"""

from __future__ import annotations

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


class ExportError(GraftError, ValueError):
    """A model that cannot be exported, or whose exported graph disagrees with PyTorch."""


class MissingDependencyError(GraftError, ImportError):
    """An optional package a command needs is not installed."""


def did_you_mean(name: str, allowed: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest allowed name, or ''.

    Names are ranked by edit distance (Levenshtein, with a swap of two neighbouring
    letters counted as one edit) divided by the longer name's length, so ``lables``
    is one edit from ``labels`` and far from a name that merely shares a suffix.
    """
    best = closest(name, allowed)
    return f" Did you mean '{best}'?" if best is not None else ""


def closest(name: str, allowed: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The allowed name nearest to ``name`` by normalised edit distance, or None when
    even the nearest needs more than ``cutoff`` of its letters changed.

    Ties go to the name that shares the longer prefix, then to the first in sorted order.
    """
    target = name.lower()
    best: tuple[float, int, str] | None = None
    for candidate in sorted(set(allowed)):
        other = candidate.lower()
        longest = max(len(target), len(other), 1)
        if best is not None and abs(len(target) - len(other)) / longest > best[0]:
            continue  # cannot beat the best so far: saves time on long lists (timm names)
        score = (edit_distance(target, other) / longest, -_common_prefix(target, other), candidate)
        if best is None or score < best:
            best = score
    return best[2] if best is not None and best[0] <= cutoff else None


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance where swapping two neighbouring letters costs one edit
    (optimal string alignment), the commonest typing slip."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def unknown_name(kind: str, name: str, allowed: Iterable[str], fix: str = "") -> SpecError:
    """Build the error for a name that is not in a registry."""
    allowed = sorted(allowed)
    msg = f"Unknown {kind} '{name}'.{did_you_mean(name, allowed)} Allowed: {', '.join(allowed)}."
    msg += f" {fix}" if fix else f" Fix: pass one of the allowed names as the {kind}."
    return SpecError(msg)
