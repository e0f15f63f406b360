"""Which process this is, without importing Lightning (``import graft.api`` stays light)."""

from __future__ import annotations


def is_main_process() -> bool:
    """True on rank 0 (and when not distributed): only it writes the run directory."""
    import os

    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0"))) == 0
