"""Prediction shared by every engine: new data read the way the run read its training data,
and logits turned into the predictions table.

A run's PyTorch model (:meth:`graft.run.Run.predict`) and an exported ONNX graph
(:class:`graft.deploy.exported.ExportedModel`) both go through these two steps, so their
``predictions.csv`` differ only in the logits each engine computes.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graft.data.schema import InputSchema


def load_for_prediction(data: Any, schema: InputSchema | None,
                        load_options: dict[str, Any]) -> tuple[Any, list[str]]:
    """Load ``data`` and apply the run's schema; returns the source and the notes it raised.

    Args:
        data: Anything :func:`graft.data.load_source` takes.
        schema: What the run learned from its data (None for runs saved without one).
        load_options: Overrides of the schema's ``label_column`` / ``text_column``.
    """
    from graft.data import load_source
    from graft.notes import GraftNote
    from graft.warnings_filter import quiet_third_party

    options = {**(schema.load_options() if schema is not None else {}),
               **{k: v for k, v in load_options.items() if v is not None}}
    if schema is not None and schema.kind == "text" and "text_column" not in options:
        options["text_column"] = "text"  # a text run trained without a table: the usual name
    if schema is not None and schema.kind != "image" and isinstance(data, (str, Path)) \
            and str(data).startswith("folder:"):  # said before every image of the folder is read
        from graft.errors import DataError

        raise DataError(f"'{data}' holds image data, but the model was trained on {schema.kind} data. "
                        f"Fix: pass {schema.kind} data{schema.data_hint()}.")
    with warnings.catch_warnings(record=True) as caught, quiet_third_party():
        warnings.simplefilter("always", GraftNote)
        source = load_source(data, require_labels=False, **options)
        raw = source
        if schema is not None:
            source = schema.apply(source, report=True)
    notes = [str(w.message) for w in caught if issubclass(w.category, GraftNote)]
    for w in caught:
        if not issubclass(w.category, GraftNote):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if schema is not None and schema.table is not None and hasattr(raw.x, "columns"):
        extra = schema.table.extra_columns(raw.x)
        if extra:
            notes.append(f"ignored column(s) the model does not use: {', '.join(extra[:10])}"
                         + (" …" if len(extra) > 10 else ""))
    return source, notes


def prediction_frame(logits: np.ndarray, source: Any, classes: list[str], values: list[Any],
                     notes: list[str], asked_label: str | None = None) -> pd.DataFrame:
    """The predictions table of ``logits`` (one row per example of ``source``).

    Args:
        logits: ``[N, num_classes]`` float array.
        source: The data predicted (its paths and labels are attached).
        classes: Class names, in output order.
        values: The same classes with their training types (ints stay ints).
        notes: Notes so far; this adds its own and issues all of them.
        asked_label: The label column the user named, to say when the data lacks it.

    Returns:
        ``index``, ``path`` (files), ``prediction``, ``confidence``, ``p_<class>`` and
        ``label`` when the data has labels the run knows; ``attrs`` holds ``accuracy``
        and ``notes``.
    """
    from graft.notes import note

    probs = softmax(np.asarray(logits, dtype=np.float32))
    pred = probs.argmax(1)
    frame = pd.DataFrame({"index": np.arange(len(pred)),
                          "prediction": pd.Series([values[i] for i in pred], dtype=object),
                          "confidence": probs.max(1)})
    paths = source.meta.get("relative_paths") or source.meta.get("paths")
    if paths is not None:
        frame.insert(1, "path", [str(p) for p in paths])
    for i, c in enumerate(classes):
        frame[f"p_{c}"] = probs[:, i]
    accuracy = _attach_labels(frame, source, classes, values, notes)
    if asked_label and accuracy is None and source.kind in ("table", "text") and "label_values" not in source.meta:
        from graft.errors import ConfigError

        # Named on purpose, so a typo: unlabeled data is predicted by leaving the option out.
        raise ConfigError(f"The data has no label column '{asked_label}' (--label-column). Fix: pass the name of "
                          "its label column, or leave --label-column out (the run's label column is used when "
                          "present, and data without it is predicted without labels).")
    if not all(isinstance(v, str) for v in values):
        frame["prediction"] = frame["prediction"].infer_objects()
    frame.attrs["accuracy"] = accuracy
    frame.attrs["notes"] = notes
    for line in notes:  # said once more, outside the recording, so a Python user sees them too
        note(line)
    return frame


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32, stable for large logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _attach_labels(frame: pd.DataFrame, source: Any, classes: list[str], values: list[Any],
                   notes: list[str]) -> float | None:
    """Labels of the data matched to the run's classes by value; the accuracy on them."""
    raw = source.meta.get("label_values")
    if raw is None:
        y = np.asarray(source.y)
        if not (y >= 0).any():
            return None
        raw = np.array([source.classes[i] if i >= 0 else None for i in y], dtype=object)
    lookup = {label_key(c): i for i, c in enumerate(classes)}
    keys = [label_key(v) for v in raw]
    idx = np.array([lookup.get(k, -1) if k is not None else -1 for k in keys])
    known = idx >= 0
    if not known.any():
        if any(k is not None for k in keys) and "relative_paths" not in source.meta:
            notes.append("the data's labels are not among the run's classes: no accuracy")
        return None  # folders whose names are no class are just folders
    unknown = sorted({k for k, i in zip(keys, idx) if k is not None and i < 0})
    if unknown:
        notes.append(f"{sum(1 for k, i in zip(keys, idx) if k is not None and i < 0)} example(s) have labels "
                     f"the run does not know ({', '.join(unknown[:5])}): left out of the accuracy")
    frame["label"] = pd.Series([values[i] if i >= 0 else None for i in idx], dtype=object)
    pred_idx = frame[[f"p_{c}" for c in classes]].to_numpy().argmax(1)
    return float((pred_idx[known] == idx[known]).mean())


def label_key(value: Any) -> str | None:
    """A label as a comparable string: 3, 3.0 and '3' match; missing is None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
