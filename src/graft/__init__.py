"""graft: transfer learning for PyTorch.

The public API: :func:`fit`, :func:`compare`, :func:`pretrain`, :func:`load_run`,
:func:`list_strategies`, :func:`export`, :func:`load_exported`, :func:`rank`, :func:`tune`.
Importing graft loads nothing heavy and has no side effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real signatures for type checkers; at run time __getattr__ imports lazily
    from graft.api import compare, export, fit, list_strategies, pretrain, rank, shift, tune
    from graft.deploy.exported import load_exported
    from graft.run import load_run

__version__ = "0.1.0"
__all__ = [
    "__version__",
    "compare",
    "export",
    "fit",
    "list_strategies",
    "load_exported",
    "load_run",
    "pretrain",
    "rank",
    "shift",
    "tune",
]


def __getattr__(name: str) -> Any:
    if name in ("fit", "compare", "pretrain", "shift", "export", "rank", "tune", "list_strategies"):
        from graft import api

        return getattr(api, name)
    if name == "load_run":
        from graft.run import load_run

        return load_run
    if name == "load_exported":
        from graft.deploy.exported import load_exported

        return load_exported
    raise AttributeError(f"module 'graft' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | {"__version__", "__doc__", "__name__"})
