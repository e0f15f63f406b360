"""Export formats: how a model is traced into a file, and how the file is run back for the
parity check. Chosen by name from :data:`FORMATS`.

ONNX goes through torch's TorchScript-based exporter (``torch.onnx.export(dynamo=False)``):
the newer torch.export-based one needs the extra package ``onnxscript``, and the
TorchScript-based one exports every graft model (LeNet, MLP, timm CNNs, transformers
encoders) with dynamic axes.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from graft.registry import Registry

#: Input names of the exported graph, per input kind.
TEXT_INPUTS = ("input_ids", "attention_mask")
TENSOR_INPUTS = ("input",)
OUTPUT = "logits"

Runner = Callable[[dict[str, np.ndarray]], np.ndarray]


class ExportWrapper(nn.Module):
    """A graft model with plain tensor arguments, as exporters want them:
    ``(input)`` for images and tables, ``(input_ids, attention_mask)`` for text."""

    def __init__(self, model: nn.Module, kind: str) -> None:
        super().__init__()
        self.model = model
        self.kind = kind

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.kind == "text":
            return self.model({"input_ids": inputs[0], "attention_mask": inputs[1]})
        return self.model(inputs[0])


def input_names(kind: str) -> tuple[str, ...]:
    return TEXT_INPUTS if kind == "text" else TENSOR_INPUTS


def as_args(inputs: Any, kind: str) -> tuple[torch.Tensor, ...]:
    """Model inputs (a tensor or a token dict) as the wrapper's positional arguments."""
    return tuple(inputs[n] for n in TEXT_INPUTS) if kind == "text" else (inputs,)


def as_feed(inputs: Any, kind: str) -> dict[str, np.ndarray]:
    """Model inputs as the exported graph's named numpy inputs."""
    return {n: t.numpy() for n, t in zip(input_names(kind), as_args(inputs, kind))}


@dataclass(frozen=True)
class ExportFormat:
    """One export format.

    Attributes:
        name: What ``--format`` takes.
        suffix: The file suffix of the default output.
        write: ``write(wrapper, args, kind, path, opset)`` traces and writes the file.
        runner: ``runner(path)`` loads the file and returns a function of named numpy inputs.
        engine: What runs the file (``onnxruntime``, ``torch.jit``).
    """

    name: str
    suffix: str
    write: Callable[[nn.Module, tuple[torch.Tensor, ...], str, Path, int], None]
    runner: Callable[[Path], Runner]
    engine: str


def _write_onnx(wrapper: nn.Module, args: tuple[torch.Tensor, ...], kind: str, path: Path, opset: int) -> None:
    names = list(input_names(kind))
    axes = {0: "batch", 1: "sequence"} if kind == "text" else {0: "batch"}
    dynamic = {**{n: dict(axes) for n in names}, OUTPUT: {0: "batch"}}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="The feature will be removed", category=DeprecationWarning)
        with _native_stdout_silenced():
            torch.onnx.export(wrapper, args, str(path), dynamo=False, input_names=names, output_names=[OUTPUT],
                              dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True)
    import onnx

    onnx.checker.check_model(str(path))


@contextmanager
def _native_stdout_silenced() -> Iterator[None]:
    """Silence C++ writes to stdout: torch's exporter prints its whole graph there when an
    operator fails (its log switch stays on in torch 2.x); graft says the failure in one line."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _onnx_runner(path: Path) -> Runner:
    from graft.deploy.onnx_session import OnnxClassifier

    session = OnnxClassifier(path)
    return session.logits


def _write_torchscript(wrapper: nn.Module, args: tuple[torch.Tensor, ...], kind: str, path: Path, opset: int) -> None:
    with warnings.catch_warnings():
        _ignore_jit_deprecation()
        traced = torch.jit.trace(wrapper, args, check_trace=False)
        torch.jit.save(traced, str(path))


def _torchscript_runner(path: Path) -> Runner:
    with warnings.catch_warnings():
        _ignore_jit_deprecation()
        module = torch.jit.load(str(path), map_location="cpu").eval()

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return module(*(torch.from_numpy(a) for a in feed.values())).float().numpy()

    return run


def _ignore_jit_deprecation() -> None:
    # torch 2.x marks torch.jit deprecated in favour of torch.export; TorchScript files still
    # load in C++ (libtorch) without Python, which is why graft offers the format.
    warnings.filterwarnings("ignore", message=r"`?torch\.jit\.\w+`? is deprecated")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")


FORMATS: Registry[ExportFormat] = Registry("export format")
FORMATS.register("onnx", "ONNX graph with a dynamic batch (and sequence) axis, run by onnxruntime")(
    ExportFormat("onnx", ".onnx", _write_onnx, _onnx_runner, "onnxruntime"))
FORMATS.register("torchscript", "TorchScript module traced with a dynamic batch, run by torch.jit")(
    ExportFormat("torchscript", ".pt", _write_torchscript, _torchscript_runner, "torch.jit"))
