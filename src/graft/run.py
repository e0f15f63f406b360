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

from graft.errors import MissingPathError
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
    """

    run_dir: Path
    model: GraftModel
    metrics: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)

    def predict(self, data: Any, *, batch_size: int = 256, **load_options: Any) -> pd.DataFrame:
        """Predict every example of ``data`` (a spec, arrays or a DataSource).

        Returns:
            A DataFrame with ``index``, ``prediction`` (class name), ``confidence``, one
            ``p_<class>`` column per class, and ``label`` when the data has labels.
        """
        from graft.data import load_source, make_dataset
        from graft.engine.evaluate import predict_logits

        source = load_source(data, **load_options)
        ds = make_dataset(source, np.arange(len(source)), self.model.spec.input)
        logits, y, _ = predict_logits(self.model, ds, batch_size)
        probs = torch.softmax(logits, 1).numpy()
        classes = self.model.classes
        pred = probs.argmax(1)
        frame = pd.DataFrame({"index": np.arange(len(pred)),
                              "prediction": [classes[i] for i in pred],
                              "confidence": probs.max(1)})
        if "paths" in source.meta:
            frame.insert(1, "path", [str(p) for p in source.meta["paths"]])
        for i, c in enumerate(classes):
            frame[f"p_{c}"] = probs[:, i]
        if (y >= 0).all():
            frame["label"] = [source.classes[i] for i in y.numpy()]
        return frame


def load_run(run_dir: str | Path) -> Run:
    """Load a finished run directory written by ``graft fit``/``pretrain``."""
    from graft.models import load_model

    run_dir = Path(run_dir)
    if not (run_dir / "model").is_dir():
        raise MissingPathError(
            f"'{run_dir}' is not a graft run directory: it has no model/ folder. "
            "Fix: pass the --out directory of a finished graft fit or pretrain."
        )
    model = load_model(run_dir / "model")
    metrics = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").exists() else {}
    config = yaml.safe_load((run_dir / "config.yaml").read_text()) if (run_dir / "config.yaml").exists() else {}
    history = pd.read_csv(run_dir / "history.csv").to_dict("records") if (run_dir / "history.csv").exists() else []
    return Run(run_dir, model, metrics, config or {}, history)
