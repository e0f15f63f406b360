"""Running an exported ONNX graph with onnxruntime: numpy in, logits out.

This module imports numpy and onnxruntime only, never torch nor graft's model or
training code: a deployment that ships ``model.onnx`` and its sidecar needs nothing else
to compute logits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from graft.errors import MissingDependencyError


def require_onnxruntime(what: str) -> Any:
    """The onnxruntime module, or a one-line error saying ``what`` needs it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs the package onnxruntime, which is not installed ({exc}). Allowed: an environment "
            "with onnxruntime (graft pins it in constraints.txt). Fix: pip install onnxruntime, or predict "
            "with --engine torch."
        ) from None
    return onnxruntime


class OnnxClassifier:
    """An exported classifier in an onnxruntime session on CPU.

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads (None lets onnxruntime choose).

    Example:
        >>> clf = OnnxClassifier("model.onnx")  # doctest: +SKIP
        >>> clf.logits({"input": images})  # doctest: +SKIP
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        ort = require_onnxruntime("Running an ONNX model")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its graph-optimisation notices mean nothing to a user
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's own error types (a file it cannot parse or load)
            from graft.errors import ExportError

            first = " ".join(str(err).split())[:200]
            raise ExportError(f"onnxruntime cannot load '{path}' ({first}). Allowed: a model.onnx written by graft "
                              "export. Fix: export the run again (graft export --run RUN).") from None
        self.input_names = [i.name for i in self.session.get_inputs()]

    def logits(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> np.ndarray:
        """Logits ``float32 [B, num_classes]`` of one batch (a single array feeds the only input)."""
        feed = dict(inputs) if isinstance(inputs, Mapping) else {self.input_names[0]: inputs}
        return np.asarray(self.session.run(None, {k: feed[k] for k in self.input_names})[0], dtype=np.float32)

    def predict_logits(self, batches: Iterable[Mapping[str, np.ndarray]]) -> np.ndarray:
        """Logits of every batch, stacked in order."""
        parts = [self.logits(batch) for batch in batches]
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
