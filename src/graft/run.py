"""A finished run: its model, metrics and config, and prediction on new data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import yaml
from torch import nn

from graft.data.schema import InputSchema
from graft.errors import CheckpointError, ConfigError, MissingPathError
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

    def predict(self, data: Any, *, batch_size: int = 256, tta: int | None = None, device: str | None = None,
                **load_options: Any) -> pd.DataFrame:
        """Predict every example of ``data``; labels are optional and only used for an accuracy.

        Args:
            data: A spec (``folder:PATH`` of images — class sub-folders or not, searched
                recursively —, ``csv:PATH`` with or without the label column, ``npz:PATH``
                with or without ``y``, ``builtin:NAME``), an array or tensor, a pandas
                DataFrame, a list of strings, ``(x, y)``, or a DataSource. Table columns
                are matched by name with the run's schema; extra columns are ignored.
            batch_size: Examples per forward pass.
            tta: Fixed views averaged per image (``--tta``); None: the run's own (``tta_used``).
            device: ``auto`` (a GPU when PyTorch sees one), ``cpu`` or ``cuda``: the model moves there
                first and stays. None: where its weights are (a fitted or loaded run's are on the CPU).
            **load_options: Override what the run's schema says: ``label_column``,
                ``text_column``.

        Returns:
            A DataFrame with ``index``, ``path`` (files, relative to the folder),
            ``prediction`` (the class, with its training type), ``confidence``, one
            ``p_<class>`` column per class, and ``label`` when the data has labels the run
            knows. ``frame.attrs`` holds ``accuracy`` (or None) and ``notes``.
        """
        from graft.data import make_dataset
        from graft.engine.evaluate import predict_logits
        from graft.models.test_time import with_views
        from graft.prediction import load_for_prediction, prediction_frame

        if device is not None:
            from graft.deploy.predict import torch_device

            self.model.to(torch_device(device))
        views = self.views(tta)
        source, notes = load_for_prediction(data, self.schema, load_options)
        ds = make_dataset(source, np.arange(len(source)), self.model.spec.input)
        logits, _, _ = predict_logits(with_views(self.model, views), ds, batch_size)
        values = self.schema.class_values if self.schema is not None else self.model.classes
        return prediction_frame(logits.numpy(), source, self.model.classes, values, notes,
                                load_options.get("label_column"))

    def views(self, tta: int | None = None) -> int:
        """The test-time views to average: ``tta`` when given, else the run's (``--tta``, or 0 where its
        validation check declined them; 0 for text and tables)."""
        from graft.models.test_time import refuse_views_for
        from graft.options import check_value
        from graft.run_options import RunOptions

        if tta is not None:
            check_value(RunOptions, "tta", tta, "graft predict")
        own = self.metrics.get("tta_used", self.config.get("tta"))  # the views validation kept
        n = int(own or 0) if tta is None else tta
        refuse_views_for(self.model.spec.input.kind, n)
        return n


def write_predictions(frame: pd.DataFrame, out: str | Path, run_dir: str | Path | None = None) -> Path:
    """Write ``frame`` as CSV to ``out``, or to ``out/predictions.csv`` when ``out`` is a folder.

    Raises:
        ConfigError: ``out`` is one of the run's own files (they are never overwritten).
    """
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
    if path.is_file() and path.suffix.lower() != ".csv":  # a file of the user's, not predictions
        raise ConfigError(
            f"--out '{out}' is an existing file that is not a CSV; graft would replace it with the predictions. "
            f"Allowed: a new path, a .csv file or a folder. Fix: pass e.g. --out {path.with_suffix('.csv')}, or a "
            "folder."
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
        # pandas types record keys as Hashable; history.csv's columns are metric names.
        history = cast(list[dict[str, float]], pd.read_csv(run_dir / "history.csv").to_dict("records")
                       if (run_dir / "history.csv").exists() else [])
        schema = InputSchema.load(run_dir / "model")
    except (ValueError, KeyError, TypeError, yaml.YAMLError, pd.errors.ParserError) as err:
        raise CheckpointError(
            f"The run directory '{run_dir}' is damaged: a file could not be read ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:120] if str(err) else ''}). Fix: re-run the training into a new --out; "
            "graft writes run files atomically, so this comes from an edit or a copy."
        ) from err
    return Run(run_dir, net, metrics, config or {}, history, schema)
