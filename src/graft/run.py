"""A finished run: its model, metrics and config, and prediction on new data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml
from torch import nn

from graft.data.schema import InputSchema
from graft.errors import CheckpointError, MissingPathError
from graft.models.spec import GraftModel


@dataclass
class Run:
    """A run directory loaded in memory.

    Attributes:
        run_dir: Where it lives.
        model: The adapted model.
        metrics: The contents of metrics.json.
        config: The resolved config.
        history: One row per epoch.
        schema: What the run learned from its data (None for runs saved without one).
    """

    run_dir: Path
    model: GraftModel
    metrics: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    schema: InputSchema | None = None

    def predict(self, data: Any, *, batch_size: int = 256, **load_options: Any) -> pd.DataFrame:
        """Predict every example of ``data``; labels are optional and only used for an accuracy.

        Args:
            data: A spec (``folder:PATH`` of images — class sub-folders or not, searched
                recursively —, ``csv:PATH`` with or without the label column, ``npz:PATH``
                with or without ``y``, ``builtin:NAME``), an array or tensor, a pandas
                DataFrame, a list of strings, ``(x, y)``, or a DataSource. Table columns
                are matched by name with the run's schema; extra columns are ignored.
            batch_size: Examples per forward pass.
            **load_options: Override what the run's schema says: ``label_column``,
                ``text_column``.

        Returns:
            A DataFrame with ``index``, ``path`` (files, relative to the folder),
            ``prediction`` (the class, with its training type), ``confidence``, one
            ``p_<class>`` column per class, and ``label`` when the data has labels the run
            knows. ``frame.attrs`` holds ``accuracy`` (or None) and ``notes``.
        """
        import warnings

        from graft.data import load_source, make_dataset
        from graft.engine.evaluate import predict_logits
        from graft.notes import GraftNote

        schema = self.schema
        options = {**(schema.load_options() if schema is not None else {}),
                   **{k: v for k, v in load_options.items() if v is not None}}
        if schema is not None and schema.kind == "text" and "text_column" not in options:
            options["text_column"] = "text"  # a text run trained without a table: the usual name
        from graft.warnings_filter import quiet_third_party

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
        ds = make_dataset(source, np.arange(len(source)), self.model.spec.input)
        logits, _, _ = predict_logits(self.model, ds, batch_size)
        probs = torch.softmax(logits, 1).numpy()
        values = schema.class_values if schema is not None else self.model.classes
        pred = probs.argmax(1)
        frame = pd.DataFrame({"index": np.arange(len(pred)),
                              "prediction": pd.Series([values[i] for i in pred], dtype=object),
                              "confidence": probs.max(1)})
        paths = source.meta.get("relative_paths") or source.meta.get("paths")
        if paths is not None:
            frame.insert(1, "path", [str(p) for p in paths])
        for i, c in enumerate(self.model.classes):
            frame[f"p_{c}"] = probs[:, i]
        accuracy = self._attach_labels(frame, source, values, notes)
        asked = load_options.get("label_column")
        if asked and accuracy is None and source.kind in ("table", "text") and "label_values" not in source.meta:
            notes.append(f"the data has no label column '{asked}': predicted without labels")
        if not all(isinstance(v, str) for v in values):
            frame["prediction"] = frame["prediction"].infer_objects()
        frame.attrs["accuracy"] = accuracy
        frame.attrs["notes"] = notes
        from graft.notes import note

        for line in notes:  # said once more, outside the recording, so a Python user sees them too
            note(line)
        return frame

    def _attach_labels(self, frame: pd.DataFrame, source: Any, values: list[Any], notes: list[str]) -> float | None:
        """Labels of the data matched to the run's classes by value; the accuracy on them."""
        raw = source.meta.get("label_values")
        if raw is None:
            y = np.asarray(source.y)
            if not (y >= 0).any():
                return None
            raw = np.array([source.classes[i] if i >= 0 else None for i in y], dtype=object)
        lookup = {_label_key(c): i for i, c in enumerate(self.model.classes)}
        keys = [_label_key(v) for v in raw]
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
        pred_idx = frame[[f"p_{c}" for c in self.model.classes]].to_numpy().argmax(1)
        return float((pred_idx[known] == idx[known]).mean())


def _label_key(value: Any) -> str | None:
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


def write_predictions(frame: pd.DataFrame, out: str | Path, run_dir: str | Path | None = None) -> Path:
    """Write ``frame`` as CSV to ``out``, or to ``out/predictions.csv`` when ``out`` is a folder.

    Raises:
        ConfigError: ``out`` is one of the run's own files (they are never overwritten).
    """
    from graft.errors import ConfigError
    from graft.io import atomic_path

    path = Path(out)
    if path.is_dir() or str(out).endswith(("/", "\\")):
        path = path / "predictions.csv"
    if run_dir is not None and path.exists():
        inside = Path(run_dir).resolve()
        target = path.resolve()
        if inside in target.parents and not target.name.startswith("predictions"):
            raise ConfigError(
                f"--out '{out}' is a file of the run itself; graft never overwrites a run's files. "
                "Fix: pass another path, e.g. --out predictions.csv, or a folder."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def load_run(run_dir: str | Path, model: nn.Module | None = None) -> Run:
    """Load a finished run directory written by ``graft fit``/``pretrain``.

    Args:
        run_dir: The run directory.
        model: The ``nn.Module`` the run was trained from, when it was a Python module
            (graft cannot rebuild those by name); its weights are replaced by the run's.
    """
    from graft.models import load_model

    run_dir = Path(run_dir)
    if not (run_dir / "model").is_dir():
        raise MissingPathError(
            f"'{run_dir}' is not a graft run directory: it has no model/ folder. "
            "Fix: pass the --out directory of a finished graft fit or pretrain."
        )
    net = load_model(run_dir / "model", arch=model)
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").exists() else {}
        config = yaml.safe_load((run_dir / "config.yaml").read_text()) if (run_dir / "config.yaml").exists() else {}
        history = (pd.read_csv(run_dir / "history.csv").to_dict("records")
                   if (run_dir / "history.csv").exists() else [])
        schema = InputSchema.load(run_dir / "model")
    except (ValueError, KeyError, TypeError, yaml.YAMLError, pd.errors.ParserError) as err:
        raise CheckpointError(
            f"The run directory '{run_dir}' is damaged: a file could not be read ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:120] if str(err) else ''}). Fix: re-run the training into a new --out; "
            "graft writes run files atomically, so this comes from an edit or a copy."
        ) from err
    return Run(run_dir, net, metrics, config or {}, history, schema)
