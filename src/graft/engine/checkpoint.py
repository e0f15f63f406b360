"""Epoch checkpoints: written atomically, read with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning_fabric import Fabric
from torch import nn

from graft.errors import CheckpointError
from graft.io import atomic_path


def save_checkpoint(
    fabric: Fabric, path: Path, module: nn.Module, optimizer: Any, state: dict[str, Any]
) -> None:
    """Save module, optimizer and loop state; only rank 0 writes."""
    payload = {"module": module.state_dict(), "optimizer": optimizer.state_dict(), **state}
    if fabric.is_global_zero:
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
    fabric.barrier()


def load_checkpoint(fabric: Fabric, path: Path, module: nn.Module, optimizer: Any,
                    optimizer_name: str | None = None) -> dict[str, Any]:
    """Restore module and optimizer in place and return the loop state; ``optimizer_name`` (``--optimizer``)
    must be the interrupted run's."""
    payload = _read(path)
    saved = (payload.get("schedule") or {}).get("optimizer", optimizer_name)
    if optimizer_name is not None and saved != optimizer_name:
        raise CheckpointError(
            f"The checkpoint '{path}' was written with --optimizer {saved}; this run has --optimizer "
            f"{optimizer_name}. Allowed: resuming with the interrupted run's optimizer. Fix: pass --optimizer "
            f"{saved} (the run's config.yaml has every option), or start afresh without --resume."
        )
    try:
        module.load_state_dict(payload.pop("module"))
        optimizer.load_state_dict(payload.pop("optimizer"))
    except (RuntimeError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0][:300]
        raise CheckpointError(
            f"The checkpoint '{path}' does not match this model and strategy ({first}). "
            "Allowed: resuming with the same --model, --strategy and options. Fix: use the "
            "options of the interrupted run, or a new --out."
        ) from err
    return payload


def save_phase(path: Path, payload: dict[str, Any]) -> None:
    """Weights (and an optimizer's state) of a finished phase that comes before a fit's own
    checkpoints, such as a domain adaptation's warm start and source-only reference, so that
    ``--resume`` skips it; only the main process writes."""
    from graft.engine.ranks import is_main_process

    if is_main_process():
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)


def load_phase(path: Path) -> dict[str, Any] | None:
    """What :func:`save_phase` wrote at ``path``, or None when nothing was."""
    return _read(path) if path.exists() else None


def _read(path: Path) -> dict[str, Any]:
    try:
        return dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as err:  # a truncated or foreign file
        raise CheckpointError(
            f"Cannot read the checkpoint '{path}': {err}. Fix: delete it and start afresh without --resume."
        ) from err


#: Files in ``RUN/checkpoints`` that ``--resume`` continues from: the trainer's epoch checkpoint, and
#: the source-only phases a domain adaptation saves before its own first one.
RESUMABLE = ("last.ckpt", "source_phases.ckpt")


def resumable(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a checkpoint that ``--resume`` continues from."""
    return any((Path(run_dir) / "checkpoints" / name).is_file() for name in RESUMABLE)
