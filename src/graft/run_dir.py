"""The run directory: paths, guards against overwriting, and writing its files."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from graft.errors import ConfigError
from graft.io import atomic_path, write_json, write_text


def default_run_dir(strategy: str, model: str, data: str, seed: int, root: str | Path = "runs") -> Path:
    """``runs/<strategy>-<model>-<data>-s<seed>-<time>`` with path-safe names."""
    def short(spec: str) -> str:
        name = spec.rstrip("/").split("/")[-1].split(":")[-1]
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:40] or "x"

    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{strategy}-{short(model)}-{short(data)}-s{seed}-{stamp}"
    path, n = base, 1
    while path.exists():  # two runs in the same second (a loop, cross-validation)
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


#: Files and folders a graft run writes; a folder holding one of them is a (possibly unfinished) run.
_RUN_MARKERS = ("config.yaml", "metrics.json", "model", "checkpoints", "logs", "history.csv")


def check_out_folder(path: str | Path | None, option: str = "--out") -> None:
    """Refuse an output folder that is an existing file, before any work is done."""
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise ConfigError(f"{option} '{path}' is a file, not a folder; graft writes several files there. "
                          f"Fix: pass a new or existing folder as {option}.")
    if path is not None and (Path(path) / "metrics.json").is_file():
        raise ConfigError(f"{option} '{path}' holds a finished graft run (metrics.json); this command's files would "
                          f"be mixed into it. Fix: pass another folder as {option}.")


def check_run_dir(path: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse a ``--out`` that is a file, a folder of other files, or a finished run (without
    ``--overwrite``/``--resume``); checked before any data is loaded, and again when creating it."""
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"--out '{path}' is a file, not a directory. Fix: pass a directory path for the run."
        )
    if path.is_dir() and not resume and any(path.iterdir()) and not any((path / m).exists() for m in _RUN_MARKERS):
        raise ConfigError(
            f"--out '{path}' is a folder with other files in it, not a graft run; the run's files would be "
            "mixed into it. Fix: pass a new or empty folder as --out."
        )
    finished = (path / "metrics.json").exists()
    if finished and not resume and not overwrite:
        raise ConfigError(
            f"The output directory '{path}' already holds a finished run (metrics.json). "
            "Fix: pass another --out, or --overwrite to replace it."
        )


def prepare_run_dir(path: Path, *, resume: bool, overwrite: bool) -> Path:
    """Create ``path``; refuse to clobber a finished run unless ``overwrite``, which empties it."""
    check_run_dir(path, resume=resume, overwrite=overwrite)
    finished = (path / "metrics.json").exists()
    if finished and overwrite and not resume:
        for child in path.iterdir():  # a graft run: its own files only
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def start_run_dir(path: Path, config: dict[str, Any], *, resume: bool, overwrite: bool) -> None:
    """Prepare ``path`` and write its config.yaml, on the main process only: under DDP or torchrun
    every rank runs the same code, and only rank 0 owns the directory."""
    from graft.engine.ranks import is_main_process

    if is_main_process():
        prepare_run_dir(path, resume=resume, overwrite=overwrite)
        write_config(path, config)


def write_config(path: Path, config: dict[str, Any]) -> None:
    write_text(path / "config.yaml", yaml.safe_dump(yaml_safe(config), sort_keys=False))


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    frame = pd.DataFrame(history)
    with atomic_path(path / "history.csv") as tmp:
        frame[history_columns(list(frame.columns))].to_csv(tmp, index=False)


def history_columns(columns: list[str]) -> list[str]:
    """``epoch``, training columns, ``lr``, validation columns, the rest, ``seconds``: the same order
    whatever the first row holds (an epoch-0 row of the starting model has no training columns)."""
    def rank(name: str) -> int:
        if name == "epoch":
            return 0
        if name.startswith("train_"):
            return 1
        if name == "lr":
            return 2
        if name.startswith("val_"):
            return 3
        return 5 if name == "seconds" else 4

    return sorted(columns, key=lambda c: (rank(c), columns.index(c)))


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    write_json(path / "metrics.json", metrics)


def yaml_safe(obj: Any) -> Any:
    """Turn tuples, paths and numpy scalars into YAML-safe values."""
    if isinstance(obj, dict):
        return {str(k): yaml_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [yaml_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    return obj

