"""``graft export``: a finished run's model as an ONNX or TorchScript file, checked against
PyTorch on other input shapes, with a sidecar JSON of what inference needs.

Example:
    >>> result = graft.export("runs/lenet", format="onnx")  # doctest: +SKIP
    >>> result.path, result.max_abs_diff  # doctest: +SKIP
    (PosixPath('runs/lenet/export/model.onnx'), 4.2e-07)
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from graft.data.base import InputSpec
from graft.deploy.formats import FORMATS, ExportFormat, ExportWrapper, as_args, input_names
from graft.deploy.parity import TRACE_BATCH, TRACE_SEQ, check_parity, tracer_reasons
from graft.deploy.sidecar import build_sidecar, file_sha256, sidecar_path, tokenizer_dir
from graft.errors import ConfigError, ExportError
from graft.io import atomic_path, write_json
from graft.models.example_inputs import example_inputs
from graft.models.test_time import with_views

DEFAULT_OPSET = 18
#: Opsets torch's TorchScript-based ONNX exporter writes, from the first with the dynamic-shape ops graft needs.
OPSETS = range(11, 21)
DEFAULT_TOLERANCE = 1e-4
EXPORT_DIR = "export"
#: What a run directory holds: an export never writes into these.
_RUN_FOLDERS = ("model", "checkpoints", "plots", "logs")
_RUN_FILES = ("config.yaml", "metrics.json", "history.csv", "report.md")


@dataclass
class ExportResult:
    """What :func:`export_run` wrote.

    Attributes:
        path: The exported model file.
        sidecar: Its sidecar JSON.
        format: ``onnx`` or ``torchscript``.
        max_abs_diff: Largest absolute logit difference to PyTorch over the checked shapes.
        limit: The largest difference the check allowed.
        shapes: The input shapes checked (other than the traced one).
        seconds: Time taken, export and check.
    """

    path: Path
    sidecar: Path
    format: str
    max_abs_diff: float
    limit: float
    shapes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def export_run(run_dir: str | Path, format: str = "onnx", *, out: str | Path | None = None,
               opset: int | None = None, tolerance: float = DEFAULT_TOLERANCE,
               model: nn.Module | None = None) -> ExportResult:
    """Export the model of a finished run and check it against PyTorch.

    Args:
        run_dir: The run directory.
        format: ``onnx`` or ``torchscript`` (``graft.deploy.formats.FORMATS``).
        out: The file to write, or a folder for ``model.onnx``/``model.pt`` in it; by
            default ``RUN_DIR/export/model.<suffix>``. Never one of the run's own files.
        opset: ONNX opset version (ONNX only; default ``DEFAULT_OPSET``).
        tolerance: Allowed ``max |Δlogit|`` relative to ``max(1, max |logit|)``.
        model: The ``nn.Module`` the run was trained from, when it was a Python module.

    Returns:
        The written file, its sidecar and the parity figures.

    Raises:
        SpecError: An unknown format.
        ConfigError: An opset or tolerance out of range, an ``out`` into the run's files.
        MissingDependencyError: onnxruntime is not installed (ONNX's check needs it).
        ExportError: The forward cannot be traced, or the file disagrees with PyTorch.
    """
    from graft.run import load_run

    fmt = FORMATS.get(format)
    if opset is not None and fmt.name != "onnx":
        raise ConfigError(f"--opset applies to --format onnx only. Got --opset {opset} with --format {fmt.name}. "
                          "Fix: drop --opset, or pass --format onnx.")
    opset = DEFAULT_OPSET if opset is None else opset
    if fmt.name == "onnx" and (isinstance(opset, bool) or not isinstance(opset, int) or opset not in OPSETS):
        raise ConfigError(f"--opset must be an integer in {OPSETS.start}..{OPSETS.stop - 1}. Got {opset!r} instead. "
                          f"Fix: pass --opset {DEFAULT_OPSET} (the default).")
    if not isinstance(tolerance, (int, float)) or not 0 < tolerance < 1:
        raise ConfigError(f"--tolerance must be a number in (0, 1). Got {tolerance!r} instead. "
                          f"Fix: pass e.g. --tolerance {DEFAULT_TOLERANCE:g} (the default).")
    run_dir = Path(run_dir)
    target = resolve_out(run_dir, out, fmt)
    if fmt.name == "onnx":
        from graft.deploy.onnx_session import require_onnxruntime

        require_onnxruntime("graft export --format onnx (its parity check runs the graph)")
    run = load_run(run_dir, model=model)
    spec = run.model.spec.input
    if spec.kind == "text" and spec.tokenizer is None:
        raise ExportError(f"The model of '{run_dir}' takes raw strings and tokenises inside its forward; a traced "
                          "graph cannot hold a tokenizer. Allowed: models with a tokenizer (hf:, builtin:minilm), "
                          "images and tables. Fix: use a text model that names its tokenizer.")
    started = time.perf_counter()
    views = run.views()  # a run with --tta exports its averaged views, so both engines predict alike
    wrapper = ExportWrapper(with_views(run.model.cpu(), views), spec.kind).eval()
    seq = min(TRACE_SEQ, spec.max_length or TRACE_SEQ)
    traced_on = f"batch {TRACE_BATCH}" + (f" × {seq} tokens" if spec.kind == "text" else "")
    example = example_inputs(spec, TRACE_BATCH, seq_len=seq, padded=True)
    with atomic_path(target) as tmp:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fmt.write(wrapper, as_args(example, spec.kind), spec.kind, tmp, opset)
            except Exception as exc:  # the tracer raises many types from arbitrary forward code
                raise ExportError(
                    f"The model of '{run_dir}' ({run.model.spec.name}) cannot be exported to {fmt.name}: tracing its "
                    f"forward failed ({_first_line(exc)}). Allowed: a forward that maps tensors to a logits tensor "
                    f"with tensor operations. Fix: {_fix(fmt)}"
                ) from None
        reasons = tracer_reasons(caught)
        parity = check_parity(wrapper, fmt.runner(tmp), spec, tolerance=tolerance, what=f"{fmt.name} file",
                              reasons=reasons)
    _note_tracer_warnings(tracer_reasons(caught, own_code_only=True))
    tokenizer = _copy_tokenizer(spec.tokenizer, target) if spec.kind == "text" else None
    sidecar = build_sidecar(
        model_file=target, fmt=fmt.name, engine=fmt.engine, opset=opset if fmt.name == "onnx" else None,
        run_dir=run_dir, model_name=run.model.spec.name, spec=spec, inputs=_input_list(spec),
        classes=list(run.model.classes),
        class_values=list(run.schema.class_values if run.schema is not None else run.model.classes),
        schema=run.schema.to_dict() if run.schema is not None else None,
        parity={**asdict(parity), "tolerance": tolerance, "traced_on": traced_on},
        weights_sha256=file_sha256(run_dir / "model" / "model.safetensors"),
        tokenizer=tokenizer[0] if tokenizer else None, pad_id=tokenizer[1] if tokenizer else None, tta=views,
    )
    write_json(sidecar_path(target), sidecar)
    return ExportResult(target, sidecar_path(target), fmt.name, parity.max_abs_diff, parity.limit, parity.shapes,
                        time.perf_counter() - started)


def resolve_out(run_dir: Path, out: str | Path | None, fmt: ExportFormat) -> Path:
    """The file to write: ``out``, ``out/model<suffix>`` for a folder, or the default in the run.

    Raises:
        ConfigError: ``out`` (or its sidecar) would land among the run's own files.
    """
    name = f"model{fmt.suffix}"
    if out is None:
        target = run_dir / EXPORT_DIR / name
    else:
        target = Path(out)
        if target.is_dir() or str(out).endswith(("/", "\\")):
            target = target / name
    inside = run_dir.resolve()
    for path in (target, sidecar_path(target)):
        resolved = path.resolve()
        if inside not in resolved.parents:
            continue
        rel = resolved.relative_to(inside)
        if rel.parts[0] in _RUN_FOLDERS or str(rel) in _RUN_FILES:
            raise ConfigError(
                f"--out '{out}' points into the run directory's own files ({rel.as_posix()}); graft never "
                f"overwrites or adds to them. Allowed: a path outside '{run_dir}', or inside its {EXPORT_DIR}/ "
                f"folder. Fix: drop --out (it writes {run_dir / EXPORT_DIR / name}) or pass another path."
            )
    if out is not None and target.is_file() and target.suffix != fmt.suffix:  # a user's file, not an export
        raise ConfigError(
            f"--out '{out}' is an existing file without the {fmt.suffix} suffix; graft would replace it with "
            f"the export. Allowed: a new path, a {fmt.suffix} file or a folder. Fix: pass e.g. --out "
            f"{target.with_suffix(fmt.suffix)}, or a folder."
        )
    return target


def _input_list(spec: InputSpec) -> list[dict[str, Any]]:
    if spec.kind == "text":
        return [{"name": n, "dtype": "int64", "shape": ["batch", "sequence"]} for n in input_names(spec.kind)]
    if spec.kind == "image":
        return [{"name": "input", "dtype": "float32", "shape": ["batch", spec.channels, *(spec.size or ("H", "W"))]}]
    return [{"name": "input", "dtype": "float32", "shape": ["batch", spec.width]}]


def _copy_tokenizer(source: str | None, target: Path) -> tuple[str, int] | None:
    """Save the tokenizer next to the export, so the pair ships without the run; (folder name, pad id)."""
    if source is None:
        return None
    from graft.data.text import load_tokenizer

    tokenizer = load_tokenizer(source)
    folder = tokenizer_dir(target)
    tokenizer.save_pretrained(str(folder))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return folder.name, int(pad)


def _note_tracer_warnings(reasons: list[str]) -> None:
    """Parity held, but a Python value the trace fixed in the user's own code is worth a note."""
    from graft.notes import note

    for reason in reasons:
        note(f"the trace fixed a Python value ({reason}); parity held on the checked shapes, but inputs "
             "that take another branch there may give other results than PyTorch")


def _fix(fmt: ExportFormat) -> str:
    base = ("keep the forward to tensor operations that return one logits tensor (no .numpy(), .item() or Python "
            "branches on tensor values)")
    return base + (", or try --format torchscript or another --opset" if fmt.name == "onnx" else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0][:300] if text else type(exc).__name__).rstrip(".")
