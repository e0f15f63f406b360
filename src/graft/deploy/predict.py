"""Which engine predicts: the run's PyTorch model, or an ONNX export through onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from graft.errors import ConfigError, unknown_name

if TYPE_CHECKING:
    import torch

ENGINES = ("torch", "onnx")


#: Where ``graft predict``'s torch engine runs: a GPU when PyTorch sees one, or the one named.
DEVICES = ("auto", "cpu", "cuda")


def predictor(run: str | Path, engine: str | None = None, device: str = "auto") -> tuple[Any, Path]:
    """An object with ``predict(data, ...)`` for ``run``, and the folder whose files predictions never overwrite.

    Args:
        run: A run directory, or an exported ``.onnx`` file (with its sidecar).
        engine: ``torch`` or ``onnx``; default ``onnx`` for a file, ``torch`` for a run directory.
            ``onnx`` on a run directory uses ``RUN/export/model.onnx``, exported first when it is
            missing or older than the run's weights.
        device: Where the torch engine predicts (:data:`DEVICES`); ``onnx`` runs onnxruntime on the CPU.

    Raises:
        SpecError: An unknown engine or device.
        ConfigError: ``torch`` asked for an exported file; ``cuda`` without a GPU, or with ``onnx``.
        MissingDependencyError: ``onnx`` without onnxruntime installed.
    """
    from graft.deploy.onnx_session import require_onnxruntime

    run = Path(run)
    if engine is not None and engine not in ENGINES:
        raise unknown_name("engine", engine, ENGINES, fix="Fix: pass --engine torch or --engine onnx.")
    where = torch_device(device)
    exported = run.is_file() or run.suffix == ".onnx"
    if device == "cuda" and (exported or engine == "onnx"):
        raise ConfigError("--device cuda runs the torch engine; graft's onnx engine runs onnxruntime on the CPU. "
                          "Allowed with onnx: auto, cpu. Fix: drop --device, or pass --engine torch with the run "
                          "directory.")
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

    loaded = load_run(run)
    loaded.model.to(where)  # Run.predict runs where the model's weights are
    return loaded, run


def torch_device(device: str) -> torch.device:
    """Where ``device`` (:data:`DEVICES`) puts the torch engine: ``auto`` is a GPU when PyTorch sees one.

    Raises:
        SpecError: An unknown device.
        ConfigError: ``cuda`` without a GPU.
    """
    import torch

    from graft.engine.config import no_gpu, work_device

    if device not in DEVICES:
        raise unknown_name("device", device, DEVICES, fix="Fix: pass --device auto.")
    if device == "cuda" and not torch.cuda.is_available():
        raise no_gpu("--device", device)
    return work_device(device)
