"""Notes: things graft did on the user's behalf that they should know (a rescaled value
range, an ignored column, a tiny validation split). Issued as warnings of one category,
so the CLI prints each as one ``note:`` line and the Python API can filter them."""

from __future__ import annotations

import warnings


class GraftNote(UserWarning):
    """A note from graft about a choice it made or a risk it sees."""


def note(message: str) -> None:
    """Tell the user ``message`` (a :class:`GraftNote` warning)."""
    warnings.warn(message, GraftNote, stacklevel=3)
