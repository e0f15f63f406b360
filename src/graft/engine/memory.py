"""Peak memory of a stretch of work: the CUDA allocator's peak, or the process's peak RSS.

On Linux the kernel's resident-set high-water mark (``VmHWM``) can be reset by writing
``5`` to ``/proc/self/clear_refs``, so the peak of one training run is measured on its
own, not the peak of everything the process did before. Before the reset, memory the C
allocator holds but no tensor uses (left over from a validation pass) is handed back
with ``malloc_trim``, or it would count in every later peak.
"""

from __future__ import annotations

import contextlib
import re
import resource
import sys
from pathlib import Path

import torch

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def reset_peak_memory() -> None:
    """Start measuring the peak from the current usage."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        return
    _trim_heap()
    with contextlib.suppress(OSError):  # not Linux, or not allowed: the peak then covers the whole process
        _CLEAR.write_text("5")


def _trim_heap() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


def peak_memory_mb() -> float:
    """The peak since :func:`reset_peak_memory` (or since the process started), in MiB."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        found = re.search(r"VmHWM:\s+(\d+)\s*kB", _STATUS.read_text())
        if found:
            return int(found.group(1)) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10)
