"""``csv:PATH`` (also .tsv, .jsonl, .json, .parquet) and ``npz:PATH`` files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from graft.data.arrays import (
    check_source,
    encode_labels,
    from_arrays,
    listed,
    table_array,
    text_list,
)
from graft.data.base import DataSource
from graft.errors import DataError, MissingPathError

if TYPE_CHECKING:
    import pandas as pd

TABLE_EXTENSIONS = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
_COMPRESSIONS = (".gz", ".bz2", ".zip", ".xz", ".zst")


def table_format(path: str | Path) -> str | None:
    """The table extension of ``path`` (``.csv``, ``.tsv`` …), looking past ``.gz`` etc."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes and suffixes[-1] in TABLE_EXTENSIONS else None


def _existing(path: str | Path, scheme: str) -> Path:
    file = Path(path).expanduser()
    if not file.exists():
        raise MissingPathError(f"{scheme} file '{file}' does not exist. Fix: check the path.")
    if not file.is_file():
        raise DataError(
            f"{scheme}:PATH must be a file; '{file}' is a directory. "
            "Fix: use folder:PATH for image folders, or name the file."
        )
    return file


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table with pandas, the format chosen by extension (default: CSV)."""
    import pandas as pd  # imported on use: graft's import stays cheap

    file = _existing(path, "csv")
    fmt = table_format(file) or ".csv"
    try:
        if fmt == ".tsv":
            frame = pd.read_csv(file, sep="\t")
        elif fmt == ".jsonl":
            frame = pd.read_json(file, lines=True)
        elif fmt == ".json":
            frame = pd.read_json(file)
        elif fmt == ".parquet":
            frame = pd.read_parquet(file)
        else:
            frame = pd.read_csv(file)
    except ImportError as exc:
        raise DataError(
            f"Reading '{file}' needs a parquet engine: {exc}. "
            "Fix: pip install pyarrow, or save the table as CSV."
        ) from exc
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(
            f"Cannot read '{file}' as {fmt[1:]}: {exc}. "
            f"Allowed: {', '.join(e[1:] for e in TABLE_EXTENSIONS)}, decided by extension. "
            "Fix: check the file's format and extension."
        ) from exc
    if frame.empty:
        raise DataError(f"Table '{file}' is empty: it has no rows. Fix: point to a file with data.")
    return frame


def _require_columns(frame: pd.DataFrame, wanted: Sequence[str], option: str, file: str) -> None:
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(
            f"Table '{file}' has no column {listed(missing)}. "
            f"Columns: {listed([str(c) for c in frame.columns])}. Fix: pass {option}=<column>."
        )


def load_table(
    path: str | Path,
    *,
    label_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    text_column: str | None = None,
    name: str | None = None,
) -> DataSource:
    """Load a feature table, or a text table when ``text_column`` is given.

    Args:
        path: CSV, TSV, JSON Lines, JSON or Parquet file.
        label_column: Column with the labels; ``label`` by default.
        feature_columns: Feature columns; by default every numeric column but the label.
        text_column: Column with raw text; makes a ``text`` source.
        name: Spec shown in reports; defaults to ``csv:PATH``.

    Returns:
        A ``table`` source (``float32 [N, D]``) or a ``text`` source (``list[str]``);
        rows without a label get ``y = -1``.
    """
    from pandas.api.types import is_numeric_dtype

    file = str(path)
    name = name or f"csv:{path}"
    frame = read_table(path)
    label = label_column or "label"
    if label not in frame.columns:
        hint = "" if label_column else " (the default)"
        raise DataError(
            f"Table '{file}' has no label column '{label}'{hint}. "
            f"Columns: {listed([str(c) for c in frame.columns])}. "
            "Fix: name the label column with label_column= (CLI: --label-column)."
        )
    y, classes = encode_labels(frame[label].to_numpy(), what=f"{name}: column '{label}'")
    columns_seen = [str(c) for c in frame.columns]
    meta: dict[str, Any] = {"path": file, "label_column": label, "columns": columns_seen}
    if text_column is not None:
        _require_columns(frame, [text_column], "text_column", file)
        x: Any = text_list(frame[text_column].tolist(), what=f"{name}: column '{text_column}'")
        meta["text_column"] = text_column
        kind = "text"
    else:
        if feature_columns is not None:
            columns = list(feature_columns)
            _require_columns(frame, columns, "feature_columns", file)
            if label in columns:
                raise DataError(
                    f"feature_columns include the label column '{label}'. "
                    "Fix: remove it from the feature columns."
                )
        else:
            columns = [c for c in frame.columns if c != label]
        numeric = [c for c in columns if is_numeric_dtype(frame[c])]
        other = [str(c) for c in columns if c not in numeric]
        if feature_columns is not None and other:
            raise DataError(
                f"Feature columns must be numeric; {listed(other)} in '{file}' are not. "
                "Fix: encode them as numbers, drop them from feature_columns, or pass "
                "text_column= for a text column."
            )
        if not numeric:
            raise DataError(
                f"Table '{file}' has no numeric feature columns besides the label "
                f"(non-numeric: {listed(other)}). Fix: encode features as numbers, or pass "
                "text_column= for text classification."
            )
        x = table_array(frame[numeric].to_numpy(), what=f"{name}: features")
        meta.update(feature_columns=[str(c) for c in numeric], ignored_columns=other)
        kind = "table"
    used = {text_column} if kind == "text" else set(meta["feature_columns"])
    meta["rows"] = {str(c): frame[c].to_numpy() for c in frame.columns if str(c) not in used}
    source = DataSource(name=name, kind=kind, classes=classes, x=x, y=y, meta=meta)
    check_source(source)
    return source


def load_npz(path: str | Path, name: str | None = None) -> DataSource:
    """Load ``X`` and ``y`` (and optional ``classes``) from a NumPy ``.npz`` file.

    ``X`` 2-D is a feature table; 3-D or 4-D is images (see
    :func:`graft.data.arrays.from_arrays` for the shape rules).
    """
    file = _existing(path, "npz")
    name = name or f"npz:{path}"
    try:
        with np.load(file, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "X" not in keys or "y" not in keys:
                raise DataError(
                    f"npz file '{file}' needs arrays 'X' and 'y'; it has {listed(keys) or 'none'}. "
                    "Fix: np.savez(path, X=features_or_images, y=labels)."
                )
            x, y = archive["X"], archive["y"]
            classes = archive["classes"].tolist() if "classes" in keys else None
    except DataError:
        raise
    except (ValueError, OSError) as exc:
        raise DataError(
            f"Cannot read '{file}' as npz: {exc}. Fix: save it with np.savez "
            "(object arrays are refused because loading them would run pickle)."
        ) from exc
    source = from_arrays(x, y, classes=classes, name=name)
    source.meta["path"] = str(file)
    return source
