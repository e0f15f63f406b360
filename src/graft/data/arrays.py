"""In-memory arrays → DataSource, label encoding, and the checks every loader shares.

The kind of a source follows from the shape of ``x``: 2-D is a feature table,
3-D ``[N, H, W]`` and 4-D ``[N, H, W, C]`` / ``[N, C, H, W]`` (C = 1 or 3) are images,
a list of strings is text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from graft.data.base import DataSource, Kind, dataset_size
from graft.errors import DataError

_MAX_LISTED = 5


def listed(items: Sequence[Any]) -> str:
    """``'a', 'b', 'c'`` with a ``(+N more)`` tail, for error messages."""
    shown = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return shown + (f" (+{more} more)" if more > 0 else "")


def _numpy(values: Any) -> Any:
    """Tensors → numpy; anything else unchanged."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return values


def encode_labels(
    values: Any, classes: Sequence[Any] | None = None, *, what: str = "labels"
) -> tuple[np.ndarray, list[str]]:
    """Turn raw labels into integer indices and class names.

    Without ``classes``, the class names are the sorted unique labels as strings
    (sorted numerically when every label is an integer). Missing labels (None, NaN)
    become ``-1``, and so does ``-1`` when ``classes`` is given (labels are then indices;
    without classes, ``-1`` is an ordinary label such as in a ``-1``/``+1`` table).

    Args:
        values: 1-D labels: integers, strings, or integer-valued floats.
        classes: Known class names; integer labels then index into them and string
            labels must be among them.
        what: Where the labels came from, for error messages.

    Returns:
        ``(y, classes)`` with ``y`` an ``int64`` array.

    Example:
        >>> encode_labels(["cat", "dog", "cat"])
        (array([0, 1, 0]), ['cat', 'dog'])
    """
    import pandas as pd  # imported on use: graft's import stays cheap

    raw = np.asarray(_numpy(values))
    if raw.ndim != 1:
        raise DataError(
            f"{what} must be one label per example (1-D); got an array of shape {raw.shape}. "
            "Fix: pass class indices or class names, not one-hot or per-pixel labels."
        )
    missing = np.asarray(pd.isna(raw), dtype=bool)
    present = raw[~missing]
    y = np.full(len(raw), -1, dtype=np.int64)
    integral = _integral(present)
    if classes is not None:
        names = [str(c) for c in classes]
        if integral is not None:
            bad = integral[(integral < -1) | (integral >= len(names))]
            if len(bad):
                raise DataError(
                    f"{what} must be class indices 0..{len(names) - 1} for {len(names)} "
                    f"classes (-1 for unknown); got {listed(sorted(set(bad.tolist())))}. "
                    "Fix: make the labels index into the class list, or pass matching classes."
                )
            y[~missing] = integral
            return y, names
        lookup = {n: i for i, n in enumerate(names)}
        unknown = sorted({str(v) for v in present} - set(lookup))
        if unknown:
            raise DataError(
                f"{what} contain names that are not classes: {listed(unknown)}. "
                f"Allowed: {listed(names)}. Fix: pass the full class list or correct the labels."
            )
        y[~missing] = [lookup[str(v)] for v in present]
        return y, names
    if integral is not None:
        uniques = np.unique(integral)
        y[~missing] = np.searchsorted(uniques, integral)
        return y, [str(int(u)) for u in uniques]
    text = np.asarray([str(v) for v in present], dtype=object)
    found = sorted(set(text.tolist()))
    lookup = {n: i for i, n in enumerate(found)}
    y[~missing] = [lookup[t] for t in text]
    return y, found


def _integral(values: np.ndarray) -> np.ndarray | None:
    """The labels as int64 when all are integers (or integer-valued floats), else None."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return values.astype(np.int64)
    if values.dtype.kind == "O" and len(values) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values
    ):
        return values.astype(np.int64)
    return None


def image_array(x: np.ndarray, *, what: str = "images", pixels: dict[str, Any] | None = None,
                rules: list[dict[str, Any]] | None = None) -> np.ndarray:
    """Images ``[N, H, W]``, ``[N, H, W, C]`` or ``[N, C, H, W]`` → ``uint8 [N, H, W, C]``.

    Channels-first is detected when ``shape[1]`` is 1 or 3 and ``shape[3]`` is not. The
    value range is read by :func:`pixel_rule` (or ``pixels``, a rule saved in training).
    """
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise DataError(f"{what} must be 3-D or 4-D; got shape {x.shape}.")
    if x.shape[1] in (1, 3) and x.shape[3] not in (1, 3):
        x = x.transpose(0, 2, 3, 1)
    if x.shape[3] not in (1, 3):
        raise DataError(
            f"{what} must have 1 or 3 channels, first or last; got shape {x.shape}. "
            "Allowed: [N, H, W], [N, H, W, C] or [N, C, H, W] with C in (1, 3). "
            "Fix: drop the alpha channel or reshape the array."
        )
    rule = pixel_rule([x], what, pixels)
    if rules is not None:
        rules.append(rule)
    return np.ascontiguousarray(to_uint8(x, rule))


def pixel_rule(parts: list[np.ndarray], what: str, saved: dict[str, Any] | None = None) -> dict[str, Any]:
    """How pixel values map to [0, 255], read off the data (or taken from training).

    ``uint8`` (and integers within 0..255) as they are; ``bool`` × 255; ``uint16`` (integers
    up to 65535) scaled by 255/65535; floats within [0, 1] × 255; any other range (floats
    0..16, -1..1, integers above 65535) mapped linearly from [min(0, low), high], with a note.
    A rule ``saved`` in training is reused when the new data has the same dtype (or is a float
    range like the training's float range), so prediction scales exactly as training did (a
    single image's own range would differ); data of another dtype is read on its own.

    Returns:
        ``{"rule": ..., "dtype": ..., "low": ..., "high": ...}``, JSON-friendly.
    """
    dtype = parts[0].dtype
    if any(p.dtype.kind not in "biuf" for p in parts):
        raise DataError(f"{what} must be numeric; got dtype {dtype}. Fix: pass pixel arrays, not strings or objects.")
    sized = [p for p in parts if p.size]
    low = min((float(np.min(p)) for p in sized), default=0.0)
    high = max((float(np.max(p)) for p in sized), default=0.0)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise DataError(f"{what} contain NaN or infinite pixel values. Fix: fill or drop those images.")
    in_unit = low >= 0 and high <= 1
    same_dtype = saved is not None and saved.get("dtype") == str(dtype)
    # Another float precision of the training's float range (float32 vs float64 of 0..16) is
    # the same convention; any other dtype (uint8 vs uint16, float 0..1) is read on its own.
    float_range = (saved is not None and saved.get("rule") == "range" and saved.get("dtype_kind") == "f"
                   and dtype.kind == "f" and not in_unit)
    if saved is not None and (same_dtype or float_range):
        out = dict(saved)
        if out["rule"] == "range" and in_unit and out["high"] > 1.5:
            from graft.notes import note

            note(f"{what}: every pixel value is within 0..1, but the training's {out['dtype']} images ran "
                 f"{out['low']:g}..{out['high']:g}; they are read on the training's scale (dark). Fix: pass "
                 f"images on the training's scale, or as another dtype to have them read on their own.")
        if out["rule"] == "range" and (low < out["low"] or high > out["high"]):
            from graft.notes import note

            note(f"{what}: pixel values from {low:g} to {high:g} fall outside the training range "
                 f"{out['low']:g}..{out['high']:g}; they are clipped to it.")
        return out
    base = {"dtype": str(dtype), "dtype_kind": dtype.kind, "low": low, "high": high}
    if dtype.kind == "b":
        return {**base, "rule": "bool"}
    if dtype.kind in "iu" and low >= 0 and high <= 255:
        return {**base, "rule": "uint8"}
    if dtype.kind in "iu" and low >= 0 and high <= 65535:
        return {**base, "rule": "uint16"}
    if dtype.kind == "f" and low >= 0 and high <= 1:
        return {**base, "rule": "unit"}
    start = min(0.0, low)
    if high <= start:
        high = start + 1.0
    from graft.notes import note

    note(f"{what}: {dtype} pixel values run from {low:g} to {high:g}, neither 0..255 nor 0..1; "
         f"they are rescaled linearly from {start:g}..{high:g} to the full range (a model trained on them keeps "
         "this rule for new data of the same dtype).")
    return {**base, "rule": "range", "low": start, "high": high}


def to_uint8(x: np.ndarray, rule: dict[str, Any]) -> np.ndarray:
    """Apply a :func:`pixel_rule` to an array of any shape."""
    kind = rule["rule"]
    if kind == "uint8":
        return x if x.dtype == np.uint8 else np.clip(x, 0, 255).astype(np.uint8)
    values = x.astype(np.float32)
    if kind == "bool":
        values = values * 255.0
    elif kind == "uint16":
        values = values * (255.0 / 65535.0)
    elif kind == "unit":
        values = values * 255.0
    else:
        values = (values - rule["low"]) * (255.0 / (rule["high"] - rule["low"]))
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _image_list(items: list[np.ndarray], what: str, pixels: dict[str, Any] | None = None,
                rules: list[dict[str, Any]] | None = None) -> list[np.ndarray]:
    """Images of different sizes → a list of ``uint8 [H, W, C]`` arrays."""
    shaped = []
    for i, item in enumerate(items):
        if item.ndim == 2:
            item = item[..., None]
        elif item.ndim == 3 and item.shape[0] in (1, 3) and item.shape[2] not in (1, 3):
            item = item.transpose(1, 2, 0)
        if item.ndim != 3 or item.shape[2] not in (1, 3):
            raise DataError(
                f"{what}: item {i} has shape {item.shape}; allowed: [H, W], [H, W, C] or "
                "[C, H, W] with C in (1, 3)."
            )
        shaped.append(item)
    channels = {s.shape[2] for s in shaped}
    if len(channels) > 1:
        # Mixed grayscale and colour: repeat grayscale so every image has 3 channels.
        shaped = [s if s.shape[2] == 3 else np.repeat(s, 3, axis=2) for s in shaped]
    rule = pixel_rule(shaped, what, pixels)
    if rules is not None:
        rules.append(rule)
    return [np.ascontiguousarray(to_uint8(s, rule)) for s in shaped]


def table_frame(x: Any, *, what: str = "features") -> Any:
    """A 2-D array or a DataFrame → a DataFrame of raw feature columns.

    An unnamed array gets columns ``x0``, ``x1``, ... (``attrs["positional"]``), matched by
    position at prediction. Values are kept as they are: missing values, strings and
    categories are the business of :class:`graft.data.table_schema.TableSchema`, which is
    fitted on the training rows only.
    """
    import pandas as pd

    if isinstance(x, pd.DataFrame):
        frame = x.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        frame.attrs["positional"] = False
        return frame
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise DataError(f"{what} must be 2-D [N, D]; got shape {arr.shape}. Fix: reshape it, e.g. "
                        "x.reshape(len(x), -1).")
    if arr.dtype.kind not in "biufOUS":
        raise DataError(f"{what} must be numbers or categories; got dtype {arr.dtype}. Fix: convert it, e.g. "
                        "to real and imaginary parts as separate float columns.")
    frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    if arr.dtype.kind == "O":
        frame = frame.infer_objects()
    if arr.dtype.kind in "US":  # numbers saved as text (np.savez of a string array): read as a CSV would be
        frame = _numbers_from_text(frame, what)
    frame.attrs["positional"] = True
    return frame


def _numbers_from_text(frame: Any, what: str) -> Any:
    """Columns whose every value reads as a number become numbers; a column that mostly does
    but not wholly stays categorical, with a note naming a value that does not."""
    import pandas as pd

    from graft.notes import note

    for column in frame.columns:
        text = frame[column].astype(str).str.strip()
        numbers = pd.to_numeric(text.where(text != "", None), errors="coerce")
        bad = numbers.isna() & (text != "")
        if not bad.any():
            frame[column] = numbers.astype(float)
        elif bad.mean() < 0.1:
            note(f"{what}: column {column} holds numbers stored as text but {int(bad.sum())} value(s) are not "
                 f"numbers (e.g. {text[bad].iloc[0]!r}), so the whole column is read as categories. Fix: clean "
                 "those values, or store the array as numbers.")
    return frame


def text_list(texts: Sequence[Any], *, what: str = "texts") -> list[str]:
    """Strings → ``list[str]``; errors for missing or blank texts."""
    out = ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in texts]
    empty = [i for i, t in enumerate(out) if not t.strip()]
    if empty:
        raise DataError(
            f"{what} has {len(empty)} empty text(s) (rows {listed(empty)}). "
            "Fix: drop or fill those rows."
        )
    return out


def _kind_and_x(x: Any, what: str, pixels: dict[str, Any] | None = None,
                rules: list[dict[str, Any]] | None = None) -> tuple[Kind, Any]:
    import pandas as pd

    if isinstance(x, pd.DataFrame):
        return "table", table_frame(x, what=what)
    if isinstance(x, pd.Series):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        if x and all(isinstance(t, str) for t in x):
            return "text", text_list(x, what=what)
        items = [np.asarray(_numpy(i)) for i in x]
        if not items:
            raise DataError(f"{what} is empty. Fix: pass at least one example.")
        if len({i.shape for i in items}) > 1:
            if all(i.ndim <= 1 for i in items):  # rows of a table, not images of different sizes
                lengths = {int(i.size) for i in items}
                first = next(n for n, i in enumerate(items) if i.size != items[0].size)
                raise DataError(
                    f"{what}: the rows have different lengths ({listed(sorted(lengths))} values; row 0 has "
                    f"{items[0].size}, row {first} has {items[first].size}). Allowed: a feature table with the "
                    "same number of values in every row, or a list of 2-D/3-D images. Fix: pad or drop the short "
                    "rows (a pandas DataFrame marks missing values as NaN)."
                )
            return "image", _image_list(items, what, pixels, rules)
        x = np.stack(items)
    arr = np.asarray(_numpy(x))
    if arr.dtype.kind in "OUS" and arr.ndim == 1:
        return "text", text_list(arr.tolist(), what=what)
    if arr.ndim == 2:
        return "table", table_frame(arr, what=what)
    if arr.ndim in (3, 4):
        return "image", image_array(arr, what=what, pixels=pixels, rules=rules)
    raise DataError(
        f"{what} must be a table [N, D], images [N, H, W(, C)] or a list of strings; "
        f"got shape {arr.shape}. Fix: reshape it to one of these (a 1-D array of N values: x.reshape(-1, 1))."
    )


def _collect(dataset: torch.utils.data.Dataset[Any]) -> tuple[list[Any], list[Any]]:
    """Iterate a dataset of ``(x, y)`` pairs once."""
    xs, ys = [], []
    for i in range(dataset_size(dataset)):
        item = dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise DataError(
                f"dataset items must be (x, y) pairs; item {i} is {type(item).__name__}. "
                "Fix: return (input, label) from __getitem__."
            )
        x, y = item[0], item[1]
        if not isinstance(x, (str, torch.Tensor, np.ndarray)):
            x = np.asarray(x)  # PIL images and nested lists
        xs.append(x)
        ys.append(int(y.item()) if isinstance(y, (torch.Tensor, np.ndarray)) else y)
    return xs, ys


def from_arrays(
    x: Any,
    y: Any = None,
    classes: Sequence[Any] | None = None,
    name: str = "arrays",
    *,
    require_labels: bool = True,
    pixels: dict[str, Any] | None = None,
) -> DataSource:
    """Build a DataSource from in-memory data.

    Args:
        x: numpy array or torch tensor (table ``[N, D]``, images ``[N, H, W]``,
            ``[N, H, W, C]`` or ``[N, C, H, W]``), a pandas DataFrame (a table with named
            columns), a list of strings, or a ``torch.utils.data.Dataset`` of ``(x, y)``
            pairs (then leave ``y`` out).
        y: Labels: class indices or class names; None/NaN for unknown.
        classes: Class names; defaults to the dataset's ``classes`` attribute or the
            sorted unique labels.
        name: Shown in reports and error messages.
        require_labels: False accepts data without labels (``y`` None): prediction.
        pixels: A pixel rule saved in training (:func:`pixel_rule`), reused for images.

    Returns:
        The validated source.

    Example:
        >>> src = from_arrays(np.zeros((4, 3)), [0, 1, 0, 1])
        >>> src.kind, src.classes
        ('table', ['0', '1'])
    """
    if isinstance(x, torch.utils.data.Dataset) and not isinstance(x, (list, tuple)):
        if y is not None:
            raise DataError(
                "from_arrays got a Dataset and separate labels y; a Dataset must yield "
                "(x, y) pairs. Fix: leave y out."
            )
        if classes is None:
            classes = getattr(x, "classes", None)
        x, y = _collect(x)
    rules: list[dict[str, Any]] = []
    kind, data = _kind_and_x(x, f"{name}: x", pixels, rules)
    meta: dict[str, Any] = {}
    if rules:
        meta["pixels"] = rules[0]
    if kind == "table":
        meta["positional"] = bool(data.attrs.get("positional"))
    if y is None:
        if require_labels:
            raise DataError(f"{name}: labels y are missing. Fix: pass from_arrays(x, y), or fit(model, x, y).")
        source = DataSource(name=name, kind=kind, classes=list(classes or []), x=data,
                            y=np.full(len(data), -1, dtype=np.int64), meta=meta)
        check_source(source, require_labels=False)
        return source
    labels = _numpy(y)
    if isinstance(labels, (list, tuple)):
        has_text = any(isinstance(v, str) for v in labels)
        labels = np.asarray(labels, dtype=object if has_text else None)
    labels = np.asarray(labels)
    y_idx, names = encode_labels(labels, classes, what=f"{name}: labels")
    meta["class_values"] = class_values(labels, names, classes)
    meta["label_values"] = labels
    source = DataSource(name=name, kind=kind, classes=names, x=data, y=y_idx, meta=meta)
    check_source(source, require_labels=require_labels)
    return source


def class_values(labels: np.ndarray, names: list[str], given: Sequence[Any] | None = None) -> list[Any]:
    """The class names with their original type: integer labels come back as integers."""
    if given is not None:
        return list(given)
    raw = np.asarray(labels)
    present = raw[~np.asarray(_isna(raw), dtype=bool)] if raw.size else raw
    if not len(present):
        return list(names)
    if present.dtype.kind == "b" or all(isinstance(v, (bool, np.bool_)) for v in present.tolist()):
        return [n == "True" for n in names]
    if present.dtype.kind == "O" and any(isinstance(v, str) for v in present):
        return list(names)
    if _integral(present) is not None:
        return [int(n) for n in names]
    if present.dtype.kind == "f":
        return [float(n) for n in names]
    return list(names)


def _isna(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def check_source(source: DataSource, require_labels: bool = True) -> None:
    """The checks every loader shares: examples present, lengths match, 2+ classes.

    Args:
        source: The data.
        require_labels: False for data to predict: labels may be absent entirely.

    Raises:
        DataError: When the source cannot be used for classification.
    """
    n_x, n_y = len(source.x), len(source.y)
    if n_y == 0:
        raise DataError(
            f"{source.name} is empty: it has no examples. Fix: point to data with examples."
        )
    if n_x != n_y:
        raise DataError(
            f"{source.name}: x has {n_x} examples but y has {n_y} labels. "
            "Fix: pass one label per example."
        )
    if not require_labels:
        return
    if len(source.classes) < 2:
        raise DataError(
            f"{source.name} has a single class ({listed(source.classes)}); "
            "classification needs at least 2 classes. Fix: add examples of another class."
        )
    y = np.asarray(source.y)
    if y.dtype.kind not in "iu" or y.min() < -1 or y.max() >= len(source.classes):
        raise DataError(
            f"{source.name}: labels must be integers in -1..{len(source.classes) - 1}; "
            f"got {y.dtype} values from {y.min()} to {y.max()}."
        )
    present = np.unique(y[y >= 0])
    if len(present) == 0:
        raise DataError(
            f"{source.name} has no labeled examples (every label is missing). "
            "Fix: provide labels for the training data."
        )
    if len(present) == 1:
        only = source.classes[int(present[0])]
        raise DataError(
            f"{source.name}: every labeled example belongs to class '{only}'; "
            "classification needs at least 2 classes. Fix: add examples of another class."
        )
