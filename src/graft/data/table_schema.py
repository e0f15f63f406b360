"""What a run learns from a feature table, fitted on its training rows like a scikit-learn pipeline.

Numeric columns: missing values imputed with the training median, then standardised with
the training mean and standard deviation. Categorical (non-numeric) columns: one-hot
encoded when they have at most :data:`MAX_ONE_HOT` categories in training, ordinal codes
(standardised) beyond that; a text-like column (more than :data:`MAX_ONE_HOT` distinct
values, most of them unique) is dropped with a note. Every choice is written in
:meth:`TableSchema.describe` and the run's report; none is silent.

At prediction the same transformation is applied to the columns matched BY NAME (extra
columns are ignored and reported, a missing one is an error); a table built from an
unnamed array is matched by position.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from graft.data.arrays import listed
from graft.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

#: Categorical columns with at most this many training categories are one-hot encoded.
MAX_ONE_HOT = 20
#: A non-numeric column with more categories whose share of unique values exceeds this
#: looks like an identifier or free text: it is dropped, and the report says so.
UNIQUE_SHARE_DROPPED = 0.5


@dataclass
class ColumnSchema:
    """How one input column becomes model features.

    Attributes:
        name: The column's name in the table.
        kind: ``numeric``, ``onehot``, ``ordinal`` or ``dropped``.
        dtype: The column's dtype in training, for the report.
        fill: Value imputed for a missing numeric entry (training median).
        mean: Training mean (after imputation) of a numeric or ordinal column.
        scale: Training standard deviation (1 for a constant column).
        categories: Training categories of a categorical column, as strings, in code order.
        missing: Missing entries seen in training.
        reason: Why a column was dropped.
    """

    name: str
    kind: str
    dtype: str
    fill: float = 0.0
    mean: float = 0.0
    scale: float = 1.0
    categories: list[str] = field(default_factory=list)
    missing: int = 0
    reason: str = ""

    @property
    def width(self) -> int:
        return {"numeric": 1, "ordinal": 1, "onehot": len(self.categories), "dropped": 0}[self.kind]


@dataclass
class TableSchema:
    """The fitted preprocessing of a feature table.

    Attributes:
        columns: One entry per input column, in the order features are laid out.
        positional: The table came from an unnamed array (columns ``x0``, ``x1``, ...):
            new data is matched by position, not by name.
    """

    columns: list[ColumnSchema]
    positional: bool = False

    @property
    def width(self) -> int:
        """Number of model features after encoding."""
        return sum(c.width for c in self.columns)

    @property
    def input_columns(self) -> list[str]:
        """The columns a new table must have (dropped ones are not required)."""
        return [c.name for c in self.columns if c.kind != "dropped"]

    @classmethod
    def fit(cls, frame: pd.DataFrame, rows: np.ndarray, *, positional: bool = False) -> TableSchema:
        """Fit the preprocessing on ``frame.iloc[rows]`` (the training rows only)."""
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        train = frame.iloc[np.asarray(rows, dtype=np.int64)]
        columns = []
        for name in frame.columns:
            values = train[name]
            dtype = str(frame[name].dtype)
            if is_bool_dtype(values) or is_numeric_dtype(values):
                columns.append(_fit_numeric(str(name), _as_float(values), dtype))
            else:
                columns.append(_fit_categorical(str(name), values, dtype))
        if not any(c.kind != "dropped" for c in columns):
            raise DataError(
                f"No usable feature column: {listed([c.name + ' (' + c.reason + ')' for c in columns])}. "
                "Fix: pass numeric or categorical feature columns, or --text-column for a text column."
            )
        return cls(columns, positional=positional)

    def transform(self, frame: pd.DataFrame, what: str = "table") -> tuple[np.ndarray, list[str]]:
        """Encode ``frame`` as ``float32 [N, width]``; returns the array and notes for the user.

        Raises:
            DataError: A required column is missing (or, for a positional schema, the
                column count differs).
        """
        notes: list[str] = []
        frame = self._match(frame, what, notes)
        parts = []
        for col in self.columns:
            if col.kind == "dropped":
                continue
            values = frame[col.name]
            if col.kind == "numeric":
                numbers = _as_float(values, what=f"{what}: column '{col.name}'")
                missing = ~np.isfinite(numbers)
                if missing.any():
                    notes.append(f"column '{col.name}': {int(missing.sum())} missing value(s) filled with the "
                                 f"training median {col.fill:g}")
                numbers = np.where(missing, col.fill, numbers)
                parts.append(((numbers - col.mean) / col.scale)[:, None])
                continue
            text = _category_strings(values)
            lookup = {c: i for i, c in enumerate(col.categories)}
            codes = np.asarray([lookup.get(t, -1) if t is not None else -1 for t in text], dtype=np.int64)
            unseen = sorted({t for t, c in zip(text, codes) if c < 0 and t is not None})
            if unseen:
                n_unseen = int(sum(1 for t, c in zip(text, codes) if c < 0 and t is not None))
                notes.append(f"column '{col.name}': {n_unseen} "
                             f"value(s) not seen in training ({listed(unseen)}) encoded as "
                             f"{'all zeros' if col.kind == 'onehot' else 'the training mean'}")
            if col.kind == "onehot":
                block = np.zeros((len(codes), len(col.categories)), dtype=np.float64)
                ok = codes >= 0
                block[np.flatnonzero(ok), codes[ok]] = 1.0
                parts.append(block)
            else:
                numbers = np.where(codes >= 0, codes.astype(np.float64), col.mean)
                parts.append(((numbers - col.mean) / col.scale)[:, None])
        x = np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0))
        return np.ascontiguousarray(x, dtype=np.float32), notes

    def _match(self, frame: pd.DataFrame, what: str, notes: list[str]) -> pd.DataFrame:
        names = [c.name for c in self.columns]
        if self.positional and not all(n in {str(c) for c in frame.columns} for n in names):
            if frame.shape[1] != len(self.columns):
                raise DataError(
                    f"{what} has {frame.shape[1]} feature columns; the model was trained on an unnamed "
                    f"array of {len(self.columns)}. Fix: pass {len(self.columns)} columns in the training order."
                )
            frame = frame.copy()
            frame.columns = names
            return frame
        have = {str(c) for c in frame.columns}
        missing = [c for c in self.input_columns if c not in have]
        if missing and frame.attrs.get("positional") and frame.shape[1] == len(names):
            # An unnamed array for a model trained on named columns, as scikit-learn allows.
            notes.append(f"an unnamed array: its {frame.shape[1]} columns are taken as the training's "
                         f"{', '.join(names[:4])}{' …' if frame.shape[1] > 4 else ''}, in that order")
            frame = frame.copy()
            frame.columns = names
            return frame
        if missing:
            raise DataError(
                f"{what} lacks the feature column(s) {listed(missing)} the model was trained on. "
                f"Its columns: {listed(sorted(have))}. Fix: add them (matched by name; order and extra "
                "columns do not matter)."
            )
        frame = frame.rename(columns=str)
        return frame

    def extra_columns(self, frame: pd.DataFrame, ignore: tuple[str | None, ...] = ()) -> list[str]:
        """Columns of ``frame`` the model does not use (reported at prediction)."""
        names = {c.name for c in self.columns}
        if frame.attrs.get("positional") and frame.shape[1] == len(self.columns):
            return []
        if self.positional and not names <= {str(c) for c in frame.columns}:
            return []
        used = {c.name for c in self.columns} | {i for i in ignore if i}
        return [str(c) for c in frame.columns if str(c) not in used]

    def describe(self) -> list[str]:
        """One line per choice, for the report and ``graft predict``."""
        lines = []
        kinds: dict[str, list[ColumnSchema]] = {}
        for c in self.columns:
            kinds.setdefault(c.kind, []).append(c)
        if num := kinds.get("numeric"):
            lines.append(f"{len(num)} numeric column(s) standardised with training mean and std: "
                         f"{listed([c.name for c in num])}")
        for c in kinds.get("onehot", []):
            lines.append(f"column '{c.name}' ({c.dtype}) one-hot encoded over {len(c.categories)} training "
                         f"categories ({listed(c.categories)}); unseen values give all zeros")
        for c in kinds.get("ordinal", []):
            lines.append(f"column '{c.name}' ({c.dtype}) has {len(c.categories)} categories: ordinal codes, "
                         "standardised (more than "
                         f"{MAX_ONE_HOT} categories would make one-hot too wide)")
        for c in self.columns:
            if c.missing and c.kind != "dropped":
                what = f"the training median {c.fill:g}" if c.kind == "numeric" else "no category"
                lines.append(f"column '{c.name}': {c.missing} missing value(s) in training, filled with {what}")
        for c in kinds.get("dropped", []):
            lines.append(f"column '{c.name}' dropped: {c.reason}")
        if self.positional:
            lines.append("columns come from an unnamed array: new data is matched by position")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"positional": self.positional, "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableSchema:
        return cls([ColumnSchema(**c) for c in data["columns"]], positional=bool(data.get("positional")))


def _as_float(values: Any, what: str = "column") -> np.ndarray:
    """A column as float64, missing and infinite values as NaN."""
    import pandas as pd

    try:
        numbers = pd.to_numeric(values, errors="raise").astype("float64").to_numpy()
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{what} must be numeric as in training; {exc}. Fix: pass the column with the training's type."
        ) from exc
    numbers = np.array(numbers, dtype=np.float64)  # a writable copy
    numbers[~np.isfinite(numbers)] = np.nan
    return numbers


def _fit_numeric(name: str, numbers: np.ndarray, dtype: str) -> ColumnSchema:
    finite = numbers[np.isfinite(numbers)]
    missing = int(len(numbers) - len(finite))
    if len(finite) == 0:
        return ColumnSchema(name, "dropped", dtype, missing=missing, reason="every training value is missing")
    fill = float(np.median(finite))
    filled = np.where(np.isfinite(numbers), numbers, fill)
    std = float(filled.std())
    return ColumnSchema(name, "numeric", dtype, fill=fill, mean=float(filled.mean()),
                        scale=std if std > 1e-12 else 1.0, missing=missing)


def _category_strings(values: Any) -> list[str | None]:
    import pandas as pd

    return [None if pd.isna(v) else str(v) for v in values.tolist()]


def _fit_categorical(name: str, values: Any, dtype: str) -> ColumnSchema:
    text = _category_strings(values)
    present = [t for t in text if t is not None]
    missing = len(text) - len(present)
    if not present:
        return ColumnSchema(name, "dropped", dtype, missing=missing, reason="every training value is missing")
    categories = sorted(set(present))
    if len(categories) <= MAX_ONE_HOT:
        return ColumnSchema(name, "onehot", dtype, categories=categories, missing=missing)
    if len(categories) > UNIQUE_SHARE_DROPPED * len(present):
        return ColumnSchema(
            name, "dropped", dtype, missing=missing,
            reason=f"{len(categories)} distinct values in {len(present)} rows look like an identifier or "
                   "free text (use --text-column for text, or --feature-columns to choose)",
        )
    lookup = {c: i for i, c in enumerate(categories)}
    codes = np.asarray([lookup[t] for t in present], dtype=np.float64)
    mean = float(codes.mean())
    std = float(codes.std())
    return ColumnSchema(name, "ordinal", dtype, mean=mean, scale=std if std > 1e-12 else 1.0,
                        categories=categories, missing=missing)
