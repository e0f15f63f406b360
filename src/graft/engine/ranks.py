"""Which process this is, without importing Lightning (``import graft.api`` stays light)."""

from __future__ import annotations

import os

#: Where launchers put a process's rank: torchrun and Lightning (RANK, LOCAL_RANK, NODE_RANK),
#: SLURM's srun (SLURM_PROCID), IBM's jsrun (JSM_NAMESPACE_RANK).
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def is_main_process() -> bool:
    """True on global rank 0 (and when not distributed): only it writes the run directory.

    Every rank variable a launcher set must be 0: under SLURM only ``SLURM_PROCID`` is set, under
    Lightning's own multi-node launch ``NODE_RANK`` and ``LOCAL_RANK``, under torchrun ``RANK``.
    """
    return all(int(os.environ.get(name, "0") or 0) == 0 for name in RANK_VARIABLES)
