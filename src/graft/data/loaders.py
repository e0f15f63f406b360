"""``load_source``: one entry point from a data spec to a :class:`DataSource`.

Specs: ``builtin:NAME``, ``folder:PATH``, ``csv:PATH`` (.csv/.tsv/.jsonl/.json/.parquet),
``npz:PATH``, a bare path (the scheme inferred), a DataSource, an ``(x, y)`` tuple, or a
``torch.utils.data.Dataset`` of ``(x, y)`` pairs. A string spec may end in row filters,
``?column=value`` (see :mod:`graft.data.filters`), to select a domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from graft.data.arrays import check_source, from_arrays
from graft.data.base import DataSource
from graft.data.builtin import BUILTIN_DATA
from graft.data.filters import apply_filters, split_filters
from graft.data.folder import load_folder
from graft.data.tables import TABLE_EXTENSIONS, load_npz, load_table, table_format
from graft.errors import MissingPathError, SpecError, did_you_mean

__all__ = ["SCHEMES", "from_arrays", "load_source"]

SCHEMES = ("builtin", "folder", "csv", "npz")
_EXAMPLES = "Examples: builtin:digits, folder:./images, csv:./table.csv, npz:./arrays.npz"


def _split_spec(spec: str) -> tuple[str | None, str]:
    """``"csv:a.csv"`` → ``("csv", "a.csv")``; a bare path or ``C:\\x`` → ``(None, spec)``."""
    scheme, sep, rest = spec.partition(":")
    if not sep or len(scheme) < 2 or not scheme.replace("-", "").replace("_", "").isalnum():
        return None, spec
    return scheme.lower(), rest


def _infer_scheme(path: str) -> str:
    file = Path(path).expanduser()
    if not file.exists():
        raise MissingPathError(
            f"Data path '{path}' does not exist (no scheme given, so it was read as a path). "
            f"Allowed schemes: {', '.join(SCHEMES)}. {_EXAMPLES}."
        )
    if file.is_dir():
        return "folder"
    if table_format(file):
        return "csv"
    if file.suffix.lower() == ".npz":
        return "npz"
    raise SpecError(
        f"Cannot tell the format of '{path}' from its extension '{file.suffix}'. "
        f"Allowed: a folder, {', '.join(TABLE_EXTENSIONS)}, .npz. "
        f"Fix: add a scheme, for example csv:{path}. {_EXAMPLES}."
    )


def load_source(
    spec: str | Path | DataSource | tuple[Any, Any] | torch.utils.data.Dataset[Any],
    *,
    label_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    text_column: str | None = None,
) -> DataSource:
    """Load a labeled data set into memory.

    Args:
        spec: A data spec (``builtin:digits``, ``folder:PATH``, ``csv:PATH``,
            ``npz:PATH``, or a bare path, its format inferred; ``?column=value`` filters
            rows, e.g. ``builtin:drug-reviews?condition=Birth Control``), a DataSource (checked,
            returned unchanged), an ``(x, y)`` tuple of arrays, or a Dataset of ``(x, y)`` pairs.
        label_column: Label column of a table; ``label`` by default.
        feature_columns: Feature columns of a table; all numeric ones by default.
        text_column: Text column of a table; makes a ``text`` source.

    Returns:
        The source, validated: non-empty, at least 2 classes.

    Raises:
        SpecError: Unknown scheme or built-in name.
        MissingPathError: A path that does not exist.
        DataError: Data that cannot be used.

    Example:
        >>> src = load_source("builtin:digits")
        >>> src.kind, src.x.shape, src.num_classes
        ('image', (1797, 28, 28, 1), 10)
    """
    if isinstance(spec, DataSource):
        check_source(spec)
        return spec
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise SpecError(f"A data tuple must be (x, y); got a tuple of {len(spec)} items.")
        return from_arrays(spec[0], spec[1])
    if isinstance(spec, torch.utils.data.Dataset):
        return from_arrays(spec)
    if isinstance(spec, Path):
        spec = str(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError(
            f"A data spec must be a non-empty string, a DataSource, an (x, y) tuple or a "
            f"Dataset; got {type(spec).__name__} {spec!r}. {_EXAMPLES}."
        )
    base, filters = split_filters(spec.strip())
    source = _load_spec(base, label_column=label_column, feature_columns=feature_columns,
                        text_column=text_column)
    return apply_filters(source, filters)


def _load_spec(
    spec: str, *, label_column: str | None, feature_columns: Sequence[str] | None, text_column: str | None
) -> DataSource:
    scheme, rest = _split_spec(spec)
    if scheme is None:
        scheme = _infer_scheme(rest)
    table_options = label_column or feature_columns or text_column
    if table_options and scheme != "csv":
        raise SpecError(
            f"label_column, feature_columns and text_column apply to csv: tables; "
            f"got them with '{spec}'. Fix: drop them, or load a table."
        )
    if scheme == "builtin":
        source = BUILTIN_DATA.get(rest)()
    elif scheme == "folder":
        source = load_folder(rest, name=spec)
    elif scheme == "csv":
        source = load_table(
            rest,
            label_column=label_column,
            feature_columns=feature_columns,
            text_column=text_column,
            name=spec,
        )
    elif scheme == "npz":
        source = load_npz(rest, name=spec)
    else:
        raise SpecError(
            f"Unknown data scheme '{scheme}' in '{spec}'.{did_you_mean(scheme, SCHEMES)} "
            f"Allowed: {', '.join(SCHEMES)}. {_EXAMPLES}."
        )
    check_source(source)
    return source
