"""Row filters on a data spec: ``SPEC?column=value`` selects a domain by a column's value.

``builtin:drug-reviews?condition=Birth Control`` keeps one condition and
``builtin:drug-reviews?condition!=Birth Control`` keeps the others; several filters join
with ``&`` and ``column=a,b`` keeps either value. The classes of the filtered set are
those of the whole set, so a source and a target cut from one table share labels.
Filterable columns are a loader's per-row columns (``DataSource.meta["rows"]``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from graft.data.arrays import listed
from graft.data.base import DataSource
from graft.errors import DataError, SpecError

#: ``DataSource.meta`` entries that hold one value per example.
PER_ROW_META = ("label_values", "paths", "relative_paths")


@dataclass(frozen=True)
class RowFilter:
    """Keep rows whose ``column`` is (``==``) or is not (``!=``) one of ``values``."""

    column: str
    negate: bool
    values: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.column}{'!=' if self.negate else '='}{','.join(self.values)}"


def split_filters(spec: str) -> tuple[str, list[RowFilter]]:
    """``"csv:a.csv?lang=en&split!=dev"`` → ``("csv:a.csv", [filters])``."""
    base, sep, query = spec.partition("?")
    if not sep:
        return spec, []
    filters = []
    for part in query.split("&"):
        negate = "!=" in part
        column, eq, value = part.partition("!=" if negate else "=")
        if not eq or not column.strip() or not value.strip():
            raise SpecError(
                f"Cannot read the filter '{part}' in '{spec}'. Allowed: COLUMN=VALUE, COLUMN!=VALUE or "
                "COLUMN=A,B, joined with '&'. Fix: e.g. 'builtin:drug-reviews?condition=Birth Control'."
            )
        values = tuple(v.strip() for v in value.split(",") if v.strip())
        filters.append(RowFilter(column.strip(), negate, values))
    return base, filters


def apply_filters(source: DataSource, filters: list[RowFilter]) -> DataSource:
    """The rows of ``source`` that pass every filter (classes and predefined splits kept)."""
    if not filters:
        return source
    rows: dict[str, np.ndarray] = source.meta.get("rows") or {}
    keep = np.ones(len(source), dtype=bool)
    for f in filters:
        if f.column not in rows:
            available = listed(sorted(rows)) if rows else "none (this data has no per-row columns)"
            raise DataError(
                f"{source.name} has no column '{f.column}' to filter on. Filterable columns: {available}. "
                "Fix: filter on one of them, e.g. ?condition=VALUE."
            )
        column = np.asarray([str(v) for v in rows[f.column]])
        match = np.isin(column, list(f.values))
        if not f.negate and not match.any():
            common = [v for v, _ in _most_common(column, 8)]
            raise DataError(
                f"No row of {source.name} has {f.column} = {listed(list(f.values))}. "
                f"Common values: {listed(common)}. Fix: check the spelling (values are case-sensitive)."
            )
        keep &= ~match if f.negate else match
    if not keep.any():
        raise DataError(
            f"The filters {' & '.join(map(str, filters))} leave no rows of {source.name}. "
            "Fix: loosen them."
        )
    idx = np.flatnonzero(keep)
    new_pos = np.full(len(source), -1, dtype=np.int64)
    new_pos[idx] = np.arange(len(idx))
    x = source.x
    if isinstance(x, list):
        picked = [x[i] for i in idx]
    elif hasattr(x, "iloc"):  # a table's raw DataFrame
        picked = x.iloc[idx].reset_index(drop=True)
        picked.attrs = dict(x.attrs)
    else:
        picked = x[idx]
    splits = None
    if source.splits:
        splits = {k: new_pos[v][keep[v]] for k, v in source.splits.items()}
    meta = {**source.meta, "rows": {k: np.asarray(v)[idx] for k, v in rows.items()},
            "filters": [str(f) for f in filters]}
    for key in PER_ROW_META:  # per-example facts follow their rows
        if key in meta and meta[key] is not None and len(meta[key]) == len(source):
            values = meta[key]
            meta[key] = [values[i] for i in idx] if isinstance(values, list) else np.asarray(values)[idx]
    name = f"{source.name}?{'&'.join(map(str, filters))}"
    return replace(source, name=name, x=picked, y=np.asarray(source.y)[idx], splits=splits, meta=meta)


def _most_common(values: np.ndarray, n: int) -> list[tuple[str, int]]:
    names, counts = np.unique(values, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:n]
    return [(str(names[i]), int(counts[i])) for i in order]
