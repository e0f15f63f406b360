"""Third-party warnings and log records that mean nothing to a graft user, hidden by name.

Each entry names the message, the category and the module a warning is attributed to
(or the logger of a log record), and says why hiding it is safe. Everything else still
shows: graft's own warnings and notes, and any library warning graft has not looked at
(STYLE principle 10: filter by name where understood, never all at once). A library
message that matters is rephrased in graft's words where graft catches it (e.g. the
encoder weights transformers could not find, in :mod:`graft.models.hf_backbone`).

Example:
    >>> from graft.warnings_filter import quiet_third_party
    >>> with quiet_third_party():
    ...     pass  # build a model, train it
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownWarning:
    """A library warning graft understands and hides.

    Attributes:
        message: Regular expression the start of the message must match (case-insensitive).
        category: The warning's class (subclasses match too).
        module: Regular expression the start of the module the warning is attributed to
            must match. Python attributes a warning to the frame ``stacklevel`` up, which
            for some libraries is the caller's module, not the library's own.
        why: Why the user loses nothing when it is hidden.
    """

    message: str
    category: type[Warning]
    module: str
    why: str


@dataclass(frozen=True)
class KnownLogRecord:
    """A library log record graft understands and hides.

    Attributes:
        logger: Name of the logger that emits it (records of child loggers are not touched).
        message: Regular expression searched in the formatted message.
        why: Why the user loses nothing when it is hidden.
    """

    logger: str
    message: str
    why: str


KNOWN_WARNINGS: tuple[KnownWarning, ...] = (
    KnownWarning(
        message=r"The given NumPy array is not writable",
        category=UserWarning,
        # torch warns from C++, so the warning is attributed to the Python caller: graft's
        # data pipeline, or torch's own collate functions.
        module=r"(graft|torch)(\.|$)",
        why="torch wraps a read-only array (a decoded image) without copying; graft converts "
        "it to a new float tensor before anything writes to it.",
    ),
    KnownWarning(
        message=r"Experiment logs directory .* exists and is not empty",
        category=UserWarning,
        module=r"lightning_fabric\.loggers\.",
        why="a resumed run reopens its own logs/ folder; the full per-epoch history lives in "
        "the checkpoint and in history.csv.",
    ),
    KnownWarning(
        message=r"The `srun` command is available on your system but is not used",
        category=UserWarning,
        module=r"lightning_fabric\.plugins\.environments\.slurm",
        why="srun merely being on the PATH (a cluster's login node) says nothing about this run; "
        "graft starts the processes of --devices N itself.",
    ),
)

KNOWN_LOG_RECORDS: tuple[KnownLogRecord, ...] = (
    KnownLogRecord(
        logger="transformers.modeling_utils",
        message=r"LOAD REPORT",
        why="a table of the checkpoint's unused task head and of the pooler graft drops anyway; "
        "graft reads the loading info itself and names missing encoder weights in its own words.",
    ),
    KnownLogRecord(
        logger="transformers.modeling_utils",
        message=r"`loss_type=None` was set in the config but it is unrecognized",
        why="torch.jit.trace (graft export --format torchscript) reads every attribute of the module, "
        "transformers' training-loss property among them; an exported encoder computes no loss.",
    ),
)


class _DropMatching(logging.Filter):
    """A logging filter that drops the records whose message matches ``pattern``."""

    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


@contextmanager
def quiet_third_party() -> Iterator[None]:
    """Hide the warnings of :data:`KNOWN_WARNINGS` and the records of :data:`KNOWN_LOG_RECORDS`.

    Filters are added in front of the caller's, so a user's own filters still apply to
    everything else, and are removed on exit. Nesting is harmless. Like
    :class:`warnings.catch_warnings`, it changes process-wide state: do not enter it
    from several threads at once.
    """
    with warnings.catch_warnings():
        for known in KNOWN_WARNINGS:
            warnings.filterwarnings("ignore", message=known.message, category=known.category, module=known.module)
        added = [(logging.getLogger(r.logger), _DropMatching(r.message)) for r in KNOWN_LOG_RECORDS]
        for logger, drop in added:
            logger.addFilter(drop)
        try:
            yield
        finally:
            for logger, drop in added:
                logger.removeFilter(drop)


__all__ = ["KNOWN_LOG_RECORDS", "KNOWN_WARNINGS", "KnownLogRecord", "KnownWarning", "quiet_third_party"]
