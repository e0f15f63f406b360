"""Reuse of the source-only reference across the domain-adaptation runs of one comparison.

Every domain-adaptation run first trains ``source-only``'s own run on a copy of its model, the reference it must
beat (:meth:`~graft.strategies.adaptation.DomainAdaptation.train_reference`). In a ``graft compare`` of several
DA strategies, the runs of one model, K and seed train the same reference: the same initial weights, data, seed,
engine options and shared DA options. Inside :func:`reusing_references` a reference is saved under a key of all
of those (:func:`reference_key`) and the next run whose key is the same loads it instead of training it again.

The key hashes what the reference's training reads: the model's class, settings and initial weights
(:func:`~graft.engine.features.fingerprint_module`), the source-only
options, the engine options, the seed, and the content of every data split it sees. A run whose data cannot be
hashed (an item of a type :func:`_feed` does not know) or that runs on several processes (every rank must train
together) trains its own reference, as outside a comparison.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

_FOLDER: contextvars.ContextVar[Path | None] = contextvars.ContextVar("graft_reference_folder", default=None)


@contextlib.contextmanager
def reusing_references(folder: str | Path | None) -> Iterator[None]:
    """Inside the block, DA runs save their source-only reference in ``folder`` and reuse one saved there
    (None: neither, e.g. inside the reference's own training)."""
    token = _FOLDER.set(None if folder is None else Path(folder))
    try:
        yield
    finally:
        _FOLDER.reset(token)


def reference_folder() -> Path | None:
    """Where references are saved and reused (inside :func:`reusing_references`), else None."""
    return _FOLDER.get()


def _feed(h: Any, obj: Any) -> None:
    """Hash ``obj`` (tensors, arrays, numbers, strings and containers of them); TypeError for anything else."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        h.update(f"A{a.dtype}{a.shape}".encode())
        h.update(a.tobytes() if a.dtype != object else repr(a.tolist()).encode())
    elif isinstance(obj, (str, int, float, bool, type(None), np.generic)):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{len(obj)}[".encode())
        for item in obj:
            _feed(h, item)
        h.update(b"]")
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}{{".encode())
        for key in sorted(obj, key=str):
            _feed(h, str(key))
            _feed(h, obj[key])
        h.update(b"}")
    else:
        raise TypeError(type(obj).__name__)


def _feed_dataset(h: Any, data: Any) -> None:
    if data is None:
        h.update(b"none;")
        return
    n = len(data)
    h.update(f"N{n};".encode())
    for i in range(n):
        _feed(h, data[i])


def reference_key(ctx: Any, config: Any) -> str | None:
    """The hash of everything the reference's training reads (see the module's docstring), or None where it
    cannot be reused."""
    from graft.engine.config import process_count
    from graft.engine.features import fingerprint_module
    from graft.engine.ranks import RANK_VARIABLES

    cfg = ctx.train_config
    if any(name in os.environ for name in RANK_VARIABLES) or \
            process_count(cfg.devices, cfg.num_nodes, cfg.accelerator) != 1:
        return None
    h = hashlib.sha256()
    try:
        _feed(h, [fingerprint_module(ctx.model), repr(getattr(ctx.model, "spec", None)), repr(config), repr(cfg),
                  int(ctx.seed)])
        for data in (ctx.train, ctx.val, ctx.target, ctx.target_plain(), ctx.source_val):
            _feed_dataset(h, data)
    except (TypeError, NotImplementedError):
        return None
    return h.hexdigest()


def saved_reference(key: str | None) -> tuple[dict[str, torch.Tensor] | None, Path | None]:
    """The reference saved under ``key`` inside :func:`reusing_references` (None if none), and where one for
    this key is saved (None outside the block, or without a key)."""
    folder = _FOLDER.get()
    if folder is None or key is None:
        return None, None
    path = folder / f"{key}.pt"
    if not path.exists():
        return None, path
    return torch.load(path, map_location="cpu", weights_only=True), path


def save_reference(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Write ``state`` to ``path`` atomically."""
    from graft.io import atomic_write

    atomic_write(path, lambda tmp: torch.save(state, tmp))
