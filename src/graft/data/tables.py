"""``csv:PATH`` (also .tsv, .jsonl, .json, .parquet) and ``npz:PATH`` files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from graft.data.arrays import (
    check_source,
    class_values,
    encode_labels,
    from_arrays,
    listed,
    table_frame,
    text_list,
)
from graft.data.base import DataSource, Kind
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
            f"Reading '{file}' needs a parquet engine ({_first_line(exc)}). "
            "Fix: pip install pyarrow, or save the table as CSV."
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"Cannot read '{file}': it is not UTF-8 text ({_first_line(exc)}). Allowed: UTF-8 (or ASCII) "
            "tables. Fix: save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 IN > OUT, or "
            "pandas.read_csv(..., encoding=...).to_csv(OUT)."
        ) from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(
            f"Cannot read '{file}' as {fmt[1:]}: {_first_line(exc)}. "
            f"Allowed: {', '.join(e[1:] for e in TABLE_EXTENSIONS)}, decided by extension. "
            "Fix: check the file's format and extension."
        ) from exc
    if frame.empty:
        raise DataError(f"Table '{file}' is empty: it has no rows. Fix: point to a file with data.")
    return frame


def _first_line(exc: BaseException) -> str:
    """A library's message on one line (graft's errors are one line)."""
    text = " ".join(str(exc).split())
    return text[:200] + ("…" if len(text) > 200 else "")


def _require_columns(frame: pd.DataFrame, wanted: Sequence[str], option: str, file: str) -> None:
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(
            f"Table '{file}' has no column {listed(missing)}. "
            f"Columns: {listed([str(c) for c in frame.columns])}. Fix: name columns of the table in --"
            f"{option.replace('_', '-')} (the API's {option}=)."
        )


def load_table(
    path: str | Path,
    *,
    label_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    text_column: str | None = None,
    name: str | None = None,
    require_labels: bool = True,
) -> DataSource:
    """Load a feature table, or a text table when ``text_column`` is given.

    Args:
        path: CSV, TSV, JSON Lines, JSON or Parquet file.
        label_column: Column with the labels; ``label`` by default.
        feature_columns: Feature columns; by default every column but the label. Numeric
            and categorical columns are both allowed: how each is encoded is fitted on
            the training rows later (:class:`~graft.data.table_schema.TableSchema`).
        text_column: Column with raw text; makes a ``text`` source.
        name: Spec shown in reports; defaults to ``csv:PATH``.
        require_labels: False accepts a table without the label column (prediction).

    Returns:
        A ``table`` source (``x`` a DataFrame of the raw feature columns) or a ``text``
        source (``list[str]``); rows without a label get ``y = -1``.
    """
    file = str(path)
    name = name or f"csv:{path}"
    frame = read_table(path)
    label = label_column or "label"
    meta: dict[str, Any] = {"path": file, "columns": [str(c) for c in frame.columns]}
    if label in frame.columns:
        raw = frame[label].to_numpy()
        y, classes = encode_labels(raw, what=f"{name}: column '{label}'")
        meta.update(label_column=label, class_values=class_values(raw, classes), label_values=raw)
    elif require_labels:
        hint = "" if label_column else " (the default)"
        raise DataError(
            f"Table '{file}' has no label column '{label}'{hint}. "
            f"Columns: {listed([str(c) for c in frame.columns])}. "
            "Fix: name the label column with label_column= (CLI: --label-column)."
        )
    else:
        y, classes = np.full(len(frame), -1, dtype=np.int64), []
    if text_column is not None:
        _require_columns(frame, [text_column], "text_column", file)
        if text_column == label and label in frame.columns:
            raise DataError(
                f"The text column of '{file}' is its label column '{label}': the model would read the answer. "
                "Fix: pass the column that holds the texts as --text-column (text_column=), or name the label "
                "column with --label-column."
            )
        x: Any = text_list(frame[text_column].tolist(), what=f"{name}: column '{text_column}'")
        meta["text_column"] = text_column
        kind: Kind = "text"
        used = {text_column}
    else:
        if feature_columns is not None:
            columns = [str(c) for c in feature_columns]
            _require_columns(frame, columns, "feature_columns", file)
            if label in columns:
                raise DataError(
                    f"feature_columns include the label column '{label}'. "
                    "Fix: remove it from the feature columns."
                )
        else:
            columns = [str(c) for c in frame.columns if c != label]
        if not columns:
            raise DataError(
                f"Table '{file}' has no feature columns besides the label '{label}'. "
                "Fix: add feature columns, or pass text_column= for text classification."
            )
        x = table_frame(frame[columns], what=f"{name}: features")
        meta["feature_columns"] = columns
        kind = "table"
        used = set()
    meta["rows"] = {str(c): frame[c].to_numpy() for c in frame.columns if str(c) not in used}
    source = DataSource(name=name, kind=kind, classes=classes, x=x, y=y, meta=meta)
    check_source(source, require_labels=require_labels)
    return source


def _check_npz_archive(file: Path) -> None:
    """Refuse a file that is not an npz archive (a zip of ``.npy`` arrays) with what it is instead."""
    import zipfile

    if zipfile.is_zipfile(file):
        return
    with open(file, "rb") as handle:
        head = handle.read(512)
    if head.startswith(b"\x93NUMPY"):
        got = "a single .npy array (np.save), not an npz archive of named arrays"
    elif head and all(b in b"\t\n\r" or 32 <= b < 127 or b >= 128 for b in head):
        got = "a text file, not an npz archive"
    else:
        got = "not an npz archive (a zip of .npy arrays)"
    raise DataError(f"npz file '{file}' is {got}. Fix: save the arrays with np.savez(path, X=features_or_images, "
                    "y=labels), or pass a text table as csv:PATH.")


def load_npz(path: str | Path, name: str | None = None, *, require_labels: bool = True,
             pixels: dict[str, Any] | None = None) -> DataSource:
    """Load ``X`` and ``y`` (and optional ``classes``) from a NumPy ``.npz`` file.

    ``X`` 2-D is a feature table; 3-D or 4-D is images (see
    :func:`graft.data.arrays.from_arrays` for the shape rules). Without ``require_labels``
    an npz with only ``X`` is accepted (prediction).
    """
    file = _existing(path, "npz")
    name = name or f"npz:{path}"
    _check_npz_archive(file)
    try:
        with np.load(file, allow_pickle=False) as archive:
            keys = list(archive.keys())
            needed = ("X", "y") if require_labels else ("X",)
            if any(k not in keys for k in needed):
                raise DataError(
                    f"npz file '{file}' needs arrays {listed(list(needed))}; it has {listed(keys) or 'none'}. "
                    "Fix: np.savez(path, X=features_or_images, y=labels)."
                )
            x = archive["X"]
            y = archive["y"] if "y" in keys else None
            classes = archive["classes"].tolist() if "classes" in keys else None
    except DataError:
        raise
    except (ValueError, OSError) as exc:
        raise DataError(
            f"Cannot read '{file}' as npz: {exc}. Fix: save it with np.savez "
            "(object arrays are refused because loading them would run pickle)."
        ) from exc
    source = from_arrays(x, y, classes=classes, name=name, require_labels=require_labels, pixels=pixels)
    source.meta["path"] = str(file)
    return source
