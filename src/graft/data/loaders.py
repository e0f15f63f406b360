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

import numpy as np
import torch

from graft.data.arrays import check_source, from_arrays, listed
from graft.data.base import DataSource
from graft.data.builtin import BUILTIN_DATA
from graft.data.filters import apply_filters, split_filters
from graft.data.folder import load_folder
from graft.data.tables import TABLE_EXTENSIONS, load_npz, load_table, table_format
from graft.errors import DataError, MissingPathError, SpecError, did_you_mean

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
    spec: Any,
    *,
    label_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    text_column: str | None = None,
    require_labels: bool = True,
    pixels: dict[str, Any] | None = None,
) -> DataSource:
    """Load a data set into memory.

    Args:
        spec: A data spec (``builtin:digits``, ``folder:PATH``, ``csv:PATH``,
            ``npz:PATH``, or a bare path, its format inferred; ``?column=value`` filters
            rows, e.g. ``builtin:drug-reviews?condition=Birth Control``), a DataSource (checked,
            returned unchanged), an ``(x, y)`` tuple of arrays, a Dataset of ``(x, y)`` pairs,
            or (with ``require_labels=False``) bare data: an array, a tensor, a pandas
            DataFrame (its ``label_column`` is used as labels when present) or a list of strings.
        label_column: Label column of a table; ``label`` by default.
        feature_columns: Feature columns of a table; all but the label by default.
        text_column: Text column of a table; makes a ``text`` source.
        require_labels: False accepts data without labels, for prediction: a folder of
            images without class sub-folders, a table without its label column, an npz
            with only ``X``, bare arrays.
        pixels: A pixel rule saved in training, reused for images of the same dtype.

    Returns:
        The source, validated: non-empty, at least 2 classes (when labels are required).

    Raises:
        SpecError: Unknown scheme or built-in name.
        MissingPathError: A path that does not exist.
        DataError: Data that cannot be used.

    Example:
        >>> src = load_source("builtin:digits")
        >>> src.kind, src.x.shape, src.num_classes
        ('image', (1797, 28, 28, 1), 10)
    """
    import pandas as pd

    if isinstance(spec, DataSource):
        check_source(spec, require_labels=require_labels)
        return spec
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise SpecError(f"A data tuple must be (x, y); got a tuple of {len(spec)} items.")
        return from_arrays(spec[0], spec[1], require_labels=require_labels, pixels=pixels)
    if isinstance(spec, torch.utils.data.Dataset):
        return from_arrays(spec)
    if isinstance(spec, Path):
        spec = str(spec)
    if isinstance(spec, pd.DataFrame):
        label = label_column or "label"
        if text_column is not None:  # a text table: one column of texts, labels optional
            if text_column not in spec.columns:
                raise DataError(
                    f"The DataFrame has no text column '{text_column}'. Columns: "
                    f"{listed([str(c) for c in spec.columns])}. Fix: pass text_column= naming the texts."
                )
            labels = spec[label].to_numpy() if label in spec.columns else None
            return from_arrays([str(t) if t is not None else "" for t in spec[text_column].tolist()], labels,
                               name="DataFrame", require_labels=require_labels)
        if label in spec.columns:
            rest = spec.drop(columns=[label])
            if feature_columns is not None:
                rest = rest[list(feature_columns)]
            return from_arrays(rest, spec[label].to_numpy(), name="DataFrame", require_labels=require_labels)
        if require_labels:
            raise DataError(
                f"The DataFrame has no label column '{label}'. Columns: {listed([str(c) for c in spec.columns])}. "
                "Fix: pass label_column=, or (x, y)."
            )
        return from_arrays(spec, name="DataFrame", require_labels=False)
    if isinstance(spec, pd.api.extensions.ExtensionArray):  # e.g. a string column's .values
        spec = spec.tolist()
    if not isinstance(spec, str):
        if require_labels or not isinstance(spec, (np.ndarray, torch.Tensor, list, pd.Series)):
            raise SpecError(
                f"A data spec must be a non-empty string, a DataSource, an (x, y) tuple or a "
                f"Dataset; got {type(spec).__name__}. {_EXAMPLES}. Fix: for arrays with labels "
                "pass (x, y)."
            )
        return from_arrays(spec, name="arrays", require_labels=False, pixels=pixels)
    if not spec.strip():
        raise SpecError(f"A data spec must be a non-empty string; got {spec!r}. {_EXAMPLES}.")
    base, filters = split_filters(spec.strip())
    source = _load_spec(base, label_column=label_column, feature_columns=feature_columns,
                        text_column=text_column, require_labels=require_labels, pixels=pixels)
    return apply_filters(source, filters)


def _load_spec(
    spec: str, *, label_column: str | None, feature_columns: Sequence[str] | None, text_column: str | None,
    require_labels: bool = True, pixels: dict[str, Any] | None = None,
) -> DataSource:
    scheme, rest = _split_spec(spec)
    if scheme is None:
        scheme = _infer_scheme(rest)
    table_options = label_column or feature_columns or text_column
    if table_options and scheme != "csv" and require_labels:
        raise SpecError(
            f"label_column, feature_columns and text_column apply to csv: tables; "
            f"got them with '{spec}'. Fix: drop them, or load a table."
        )
    if scheme == "builtin":
        source = BUILTIN_DATA.get(rest)()
    elif scheme == "folder":
        source = load_folder(rest, name=spec, require_labels=require_labels)
    elif scheme == "csv":
        source = load_table(
            rest,
            label_column=label_column,
            feature_columns=feature_columns,
            text_column=text_column,
            name=spec,
            require_labels=require_labels,
        )
    elif scheme == "npz":
        source = load_npz(rest, name=spec, require_labels=require_labels, pixels=pixels)
    else:
        raise SpecError(
            f"Unknown data scheme '{scheme}' in '{spec}'.{did_you_mean(scheme, SCHEMES)} "
            f"Allowed: {', '.join(SCHEMES)}. Fix: write the data as SCHEME:PATH, e.g. {_EXAMPLES[10:]}."
        )
    check_source(source, require_labels=require_labels)
    return source
