"""What every benchmark script shares: mean ± std cells and writing results/NAME.md."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graft.report import format_mean_std, markdown_table

RESULTS = Path(__file__).parent / "results"


def mean_std(values: Sequence[float] | Any) -> str:
    """``0.917 ± 0.004`` over seeds (sample std), or ``0.917 (1 seed)``."""
    a = np.asarray(values, dtype=float)
    return format_mean_std(a.mean(), a.std(ddof=1)) if len(a) > 1 else f"{a[0]:.3f} (1 seed)"


def read_rows(name: str) -> list[dict[str, Any]]:
    """The rows of ``results/NAME.csv`` as strings (a rerun replaces its own rows, keeps the rest)."""
    csv = RESULTS / f"{name}.csv"
    return pd.read_csv(csv, dtype=str).to_dict("records") if csv.exists() else []


def merge_rows(name: str, new: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """``results/NAME.csv``'s rows with those sharing a ``key`` with ``new`` replaced by ``new``; written
    back and returned. Read and written under a lock, so processes finishing together keep each other's rows."""
    import fcntl
    import tempfile

    def of(row: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(row[k]) for k in key)

    with open(Path(tempfile.gettempdir()) / f"graft-results-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        replaced = {of(r) for r in new}
        rows = [r for r in read_rows(name) if of(r) not in replaced] + list(new)
        pd.DataFrame(rows).to_csv(RESULTS / f"{name}.csv", index=False)
    return rows


def publish(name: str, intro: str, rows: list[dict[str, Any]]) -> None:
    """Write ``results/NAME.md``: the intro, then the rows as a markdown table; print it."""
    text = intro + "\n\n" + markdown_table(pd.DataFrame(rows)) + "\n"
    (RESULTS / f"{name}.md").write_text(text)
    print(text)


def fit_or_reuse(out: Path, *args: Any, **kwargs: Any) -> Any:
    """A finished run in ``out`` is reused, an interrupted one resumed from its checkpoint, else trained."""
    import graft

    if (out / "metrics.json").exists():
        return graft.load_run(out)
    if (out / "checkpoints" / "last.ckpt").exists():
        return graft.fit(*args, out=out, resume=True, **kwargs)
    return graft.fit(*args, out=out, overwrite=True, **kwargs)


def parse_variant(text: str) -> tuple[str, tuple[str, dict]]:
    """``NAME=STRATEGY:key=value,...`` → (NAME, (STRATEGY, options)); values read as numbers when they are,
    ``a/b`` as a tuple of numbers (e.g. ``source_zoom=0.6/1.0``)."""
    name, _, rest = text.partition("=")
    strategy, _, pairs = rest.partition(":")
    opts: dict = {}
    for pair in filter(None, pairs.split(",")):
        key, _, value = pair.partition("=")
        if "/" in value:
            opts[key] = tuple(float(v) for v in value.split("/"))
            continue
        try:
            opts[key] = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            opts[key] = value
    return name, (strategy, opts)


def paired(before: pd.Series, after: pd.Series) -> tuple[float, float]:
    """Mean of ``after`` − ``before`` over the seeds both ran (matched by index), and its standard error
    (std with ddof 1 over √n; NaN with one seed)."""
    d = (after - before).dropna().to_numpy(dtype=float)
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return float(d.mean()), float(se)
