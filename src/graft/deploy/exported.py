"""Prediction with an exported ONNX model and its sidecar, through onnxruntime.

New data is read by graft's loaders and prepared with the run's saved schema (the
sidecar carries it), then batched as numpy arrays and run by
:class:`~graft.deploy.onnx_session.OnnxClassifier`: no PyTorch model code and none of the
training stack is involved.

Example:
    >>> model = load_exported("runs/lenet/export/model.onnx")  # doctest: +SKIP
    >>> frame = model.predict("folder:new_digits/")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graft.data.base import InputSpec
from graft.data.schema import InputSchema
from graft.deploy.sidecar import read_sidecar, spec_from_sidecar
from graft.errors import ConfigError, MissingPathError


@dataclass
class ExportedModel:
    """An exported ONNX model with what its sidecar says.

    Attributes:
        path: The ``.onnx`` file.
        meta: The sidecar's content.
        spec: What the graph takes (the tokenizer resolved next to the file).
        schema: The run's input schema (None for runs saved without one).
    """

    path: Path
    meta: dict[str, Any]
    spec: InputSpec
    schema: InputSchema | None
    _session: Any = field(default=None, repr=False)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.meta["classes"]]

    @property
    def class_values(self) -> list[Any]:
        return list(self.meta.get("class_values") or self.classes)

    def predict(self, data: Any, *, batch_size: int = 256, threads: int | None = None,
                **load_options: Any) -> pd.DataFrame:
        """Predict every example of ``data``; the same table as :meth:`graft.run.Run.predict`.

        Args:
            data: A data spec, arrays, a DataFrame, texts... (as ``Run.predict``).
            batch_size: Examples per onnxruntime call.
            threads: onnxruntime's intra-op threads (None lets it choose).
            **load_options: ``label_column``, ``text_column`` overrides.
        """
        from graft.data import make_dataset
        from graft.deploy.batches import numpy_batches
        from graft.deploy.onnx_session import OnnxClassifier
        from graft.prediction import load_for_prediction, prediction_frame

        if self._session is None or threads is not None:
            self._session = OnnxClassifier(self.path, threads=threads)
        source, notes = load_for_prediction(data, self.schema, load_options)
        dataset = make_dataset(source, np.arange(len(source)), self.spec)
        logits = self._session.predict_logits(numpy_batches(dataset, batch_size))
        return prediction_frame(logits, source, self.classes, self.class_values, notes,
                                load_options.get("label_column"))


def load_exported(path: str | Path) -> ExportedModel:
    """An exported ONNX model and its sidecar (``model.onnx`` + ``model.onnx.json``).

    Raises:
        MissingPathError: The file or its sidecar is missing.
        ConfigError: It is a TorchScript export (onnxruntime runs ONNX only).
    """
    path = Path(path)
    if path.name.endswith(".json"):
        path = path.with_name(path.name[: -len(".json")])
    if not path.is_file():
        raise MissingPathError(f"The exported model '{path}' does not exist. Fix: pass the file graft export wrote "
                               "(e.g. RUN_DIR/export/model.onnx), or --run RUN_DIR.")
    meta = read_sidecar(path)
    if meta.get("export_format") != "onnx":
        raise ConfigError(
            f"'{path}' is a {meta.get('export_format')} export; --engine onnx runs ONNX files. Allowed: an .onnx "
            "file written by graft export. Fix: export with --format onnx, or predict with --run RUN_DIR."
        )
    schema = InputSchema.from_dict(meta["schema"]) if meta.get("schema") else None
    return ExportedModel(path, meta, spec_from_sidecar(meta, path.parent), schema)


def onnx_for_run(run_dir: str | Path) -> ExportedModel:
    """The run's ONNX export (``RUN_DIR/export/model.onnx``), exported now when it is missing
    or was exported from other weights than the run's."""
    from graft.deploy.export import EXPORT_DIR, export_run
    from graft.deploy.sidecar import file_sha256, sidecar_path

    run_dir = Path(run_dir)
    target = run_dir / EXPORT_DIR / "model.onnx"
    weights = run_dir / "model" / "model.safetensors"
    fresh = target.is_file() and sidecar_path(target).is_file() and weights.is_file() and \
        read_sidecar(target).get("weights_sha256") == file_sha256(weights)
    if not fresh:
        from graft.notes import note

        export_run(run_dir, "onnx", out=target)
        note(f"exported {target} for --engine onnx (parity-checked against PyTorch)")
    return load_exported(target)
