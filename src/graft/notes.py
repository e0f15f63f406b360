"""Notes: things graft did on the user's behalf that they should know (a rescaled value
range, an ignored column, a tiny validation split). Issued as warnings of one category,
so the CLI prints each as one ``note:`` line and the Python API can filter them."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent)


class GraftNote(UserWarning):
    """A note from graft about a choice it made or a risk it sees."""


def note(message: str) -> None:
    """Tell the user ``message`` (a :class:`GraftNote` warning), attributed to the user's own
    line that called graft, so Python shows where in *their* code it happened. Only the main
    process tells: under DDP every rank runs the same code."""
    from graft.engine.ranks import is_main_process

    if not is_main_process():
        return
    frame = sys._getframe(1)
    while frame.f_back is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE):
        frame = frame.f_back
    module = frame.f_globals.get("__name__", "__main__")
    warnings.warn_explicit(message, GraftNote, frame.f_code.co_filename, frame.f_lineno, module=module,
                           registry=frame.f_globals.setdefault("__warningregistry__", {}))


#: Called by :func:`work_started`; a front end (the CLI) registers one to say the notes it held back.
_STARTED_HOOKS: list[Callable[[], None]] = []


def on_work_started(hook: Callable[[], None]) -> None:
    """Register ``hook`` for :func:`work_started` (the CLI's: print the notes it held)."""
    if hook not in _STARTED_HOOKS:
        _STARTED_HOOKS.append(hook)


def work_started() -> None:
    """A command's inputs are checked and its work begins (a run directory is written). Until
    then the CLI holds its notes back, so a mistake found while checking ends in its one
    ``error:`` line, without notes about a run that never starts."""
    for hook in list(_STARTED_HOOKS):
        hook()
