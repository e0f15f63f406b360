"""Reading weights files and loading them into a backbone with clear errors.

Pickled checkpoints are read only with ``weights_only=True``: nothing from a file is
ever executed.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import torch
from torch import nn

from graft.errors import CheckpointError, MissingPathError

log = logging.getLogger("graft.models")

# Keys under these prefixes belong to a classifier, which a backbone does not have.
HEAD_PREFIXES = ("head", "fc", "classifier", "_fc", "last_linear", "head.fc")
_NESTED_KEYS = ("state_dict", "model", "model_state_dict")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file or a torch state dict (raw or under ``state_dict``/``model``)."""
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(
            f"Weights file '{path}' does not exist (or is not a file). Check the path after 'file:'."
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises its own SafetensorError
            raise CheckpointError(f"Could not read safetensors file '{path}': {exc}") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise CheckpointError(
            f"Could not read '{path}' with torch.load(weights_only=True): {str(exc).splitlines()[0]}. "
            "graft never executes code from a weights file: re-save it as a state dict "
            "(torch.save(model.state_dict(), path)) or as .safetensors."
        ) from exc
    if isinstance(obj, dict):
        for key in _NESTED_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            f"'{path}' does not hold a state dict (a dict of parameter name → tensor, possibly under "
            f"'state_dict' or 'model'). Got {type(obj).__name__}."
        )
    return {str(k): v for k, v in obj.items()}


def strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a ``module.`` (DataParallel) and then a ``backbone.`` prefix shared by the body keys."""
    for prefix in ("module.", "backbone."):
        body = [k for k in state if not _is_head(k)] if prefix == "backbone." else list(state)
        if body and all(k.startswith(prefix) for k in body):
            state = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}
    return state


def _is_head(key: str) -> bool:
    return any(key.startswith(f"{p}.") for p in HEAD_PREFIXES)


def load_backbone(backbone: nn.Module, state: dict[str, torch.Tensor], source: str, fix: str) -> list[str]:
    """Load ``state`` into ``backbone`` strictly, ignoring classifier keys.

    Args:
        backbone: The module to fill.
        state: Parameter name → tensor, prefixes already stripped.
        source: Where the weights came from, for messages.
        fix: How to fix a mismatch, appended to the error.

    Returns:
        The classifier keys that were ignored.

    Raises:
        CheckpointError: Missing or unexpected keys, or shape mismatches.
    """
    own = backbone.state_dict()
    ignored = [k for k in state if k not in own and _is_head(k)]
    state = {k: v for k, v in state.items() if k not in ignored}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:5])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:5])})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (e.g. {'; '.join(shapes[:3])})")
        raise CheckpointError(f"The weights in {source} do not fit the architecture: {'; '.join(parts)}. {fix}")
    backbone.load_state_dict(state, strict=True)
    if ignored:
        log.info("Ignored %d classifier keys of %s: %s", len(ignored), source, ", ".join(ignored[:5]))
    return ignored
