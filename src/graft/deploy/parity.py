"""Does the exported file compute what the PyTorch model computes? Checked on fresh
synthetic inputs of batch sizes (and, for text, sequence lengths) other than the one traced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from graft.data.base import InputSpec
from graft.deploy.formats import Runner, as_args, as_feed
from graft.errors import ExportError
from graft.models.example_inputs import example_inputs

#: The example an export is traced with; the checks below use other shapes.
TRACE_BATCH, TRACE_SEQ = 2, 8
CHECK_BATCHES = (1, 3, 7)
CHECK_SEQS = (5, 13, 3)


@dataclass
class Parity:
    """The result of a parity check.

    Attributes:
        max_abs_diff: Largest absolute logit difference over every checked input.
        limit: The largest difference allowed.
        shapes: The input shapes checked (``batch 3`` or ``batch 3 × 13 tokens``).
    """

    max_abs_diff: float
    limit: float
    shapes: list[str] = field(default_factory=list)


def check_parity(eager: nn.Module, run: Runner, spec: InputSpec, *, tolerance: float, what: str,
                 reasons: list[str]) -> Parity:
    """Compare ``run`` (the exported file) with ``eager`` (the PyTorch model) on fresh inputs.

    Args:
        eager: The wrapper the file was traced from, in eval mode.
        run: Computes logits from named numpy inputs.
        spec: What the model takes.
        tolerance: Allowed ``max |Δlogit|``, relative to ``max(1, max |logit|)``.
        what: The file, named in errors.
        reasons: What the tracer warned about (Python values it fixed), said in errors.

    Raises:
        ExportError: The file fails on another shape, or differs beyond the tolerance.
    """
    worst, limit, shapes = 0.0, 0.0, []
    for i, batch in enumerate(CHECK_BATCHES):
        seq = min(CHECK_SEQS[i], spec.max_length or CHECK_SEQS[i]) if spec.kind == "text" else None
        inputs = example_inputs(spec, batch, seq_len=seq, padded=True, seed=1000 + i)
        shape = f"batch {batch}" + (f" × {seq} tokens" if seq else "")
        with torch.no_grad():
            ref = eager(*as_args(inputs, spec.kind)).float().numpy()
        try:
            got = np.asarray(run(as_feed(inputs, spec.kind)))
        except Exception as exc:  # the runtime's own error types (onnxruntime, torch.jit) differ
            raise ExportError(
                f"The exported {what} fails on {shape} (traced on batch {TRACE_BATCH}): "
                f"{_first_line(exc)}. Why: {_why(reasons)}. Fix: {_FIX}"
            ) from None
        if got.shape != ref.shape:
            raise ExportError(
                f"The exported {what} returns shape {list(got.shape)} on {shape}, PyTorch {list(ref.shape)}: "
                f"the traced graph kept the example's shape. Why: {_why(reasons)}. Fix: {_FIX}"
            )
        diff = float(np.abs(got - ref).max()) if ref.size else 0.0
        allowed = tolerance * max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
        if diff > allowed:
            raise ExportError(
                f"The exported {what} disagrees with PyTorch on {shape}: max |Δlogit| = {diff:.3g}, allowed "
                f"<= {allowed:.3g} (--tolerance {tolerance:g} × max(1, max |logit|)). Why: {_why(reasons)}. "
                f"Fix: {_FIX}, or raise --tolerance if the difference is numerical."
            )
        worst, limit = max(worst, diff), max(limit, allowed)
        shapes.append(shape)
    return Parity(worst, limit, shapes)


def tracer_reasons(caught: list[Any], *, own_code_only: bool = False) -> list[str]:
    """Tracer warnings as ``file:line: message``: where the forward turned a tensor into a Python value.

    Args:
        caught: Warnings recorded while tracing.
        own_code_only: Leave out installed libraries (transformers' shape checks are benign).
    """
    out = []
    for w in caught:
        if not issubclass(w.category, torch.jit.TracerWarning):
            continue
        if own_code_only and any(part in Path(w.filename).parts for part in ("site-packages", "dist-packages")):
            continue
        message = str(w.message).split(". ")[0]
        out.append(f"{Path(w.filename).name}:{w.lineno}: {message}")
    return list(dict.fromkeys(out))


def _why(reasons: list[str]) -> str:
    if not reasons:
        return "the tracer reported nothing; the graph may depend on the example's shapes"
    shown = "; ".join(reasons[:3]) + (f" (and {len(reasons) - 3} more)" if len(reasons) > 3 else "")
    return f"the forward is not traceable as a fixed graph: {shown}"


_FIX = ("keep tensors as tensors in the model's forward (no .item(), .tolist(), .numpy() or Python "
        "branches on tensor values), then export again")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0][:300] if text else type(exc).__name__).rstrip(".")
