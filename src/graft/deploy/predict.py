"""Which engine predicts: the run's PyTorch model, or an ONNX export through onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graft.errors import ConfigError, unknown_name

ENGINES = ("torch", "onnx")


def predictor(run: str | Path, engine: str | None = None) -> tuple[Any, Path]:
    """An object with ``predict(data, ...)`` for ``run``, and the folder whose files predictions never overwrite.

    Args:
        run: A run directory, or an exported ``.onnx`` file (with its sidecar).
        engine: ``torch`` or ``onnx``; default ``onnx`` for a file, ``torch`` for a run directory.
            ``onnx`` on a run directory uses ``RUN/export/model.onnx``, exported first when it is
            missing or older than the run's weights.

    Raises:
        SpecError: An unknown engine.
        ConfigError: ``torch`` asked for an exported file.
        MissingDependencyError: ``onnx`` without onnxruntime installed.
    """
    from graft.deploy.onnx_session import require_onnxruntime

    run = Path(run)
    if engine is not None and engine not in ENGINES:
        raise unknown_name("engine", engine, ENGINES, fix="Fix: pass --engine torch or --engine onnx.")
    exported = run.is_file() or run.suffix == ".onnx"
    if exported:
        if engine == "torch":
            raise ConfigError(
                f"--run '{run}' is an exported file, and --engine torch runs a run directory's PyTorch model. "
                "Allowed: --engine onnx with an .onnx file. Fix: drop --engine, or pass the run directory."
            )
        from graft.deploy.exported import load_exported

        require_onnxruntime("graft predict --engine onnx")
        return load_exported(run), run.parent
    if engine == "onnx":
        from graft.deploy.exported import onnx_for_run

        require_onnxruntime("graft predict --engine onnx")
        return onnx_for_run(run), run
    from graft.run import load_run

    return load_run(run), run
