"""Evaluation and prediction loops (no gradients)."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

M = TypeVar("M", bound=nn.Module)


def _loader(data: Dataset, batch_size: int) -> DataLoader:
    return DataLoader(data, batch_size=batch_size, shuffle=False,
                      collate_fn=getattr(data, "collate", None))


@torch.no_grad()
def predict_logits(
    module: nn.Module, data: Dataset, batch_size: int = 256, device: Any = None,
    return_features: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Logits, labels and (optionally) features of a whole data set, in order, on CPU.

    The batches go to ``device``; None: wherever ``module``'s weights are (a model trained on a GPU
    predicts there).
    """
    device = module_device(module) if device is None else device
    was_training = module.training
    module.eval()
    logits, labels, feats = [], [], []
    dtype = input_dtype(module)
    for x, y in _loader(data, batch_size):
        x = move_to(x, device, dtype)
        if return_features:
            out, f = module(x, return_features=True)
            feats.append(f.float().cpu())
        else:
            out = module(x)
        logits.append(out.float().cpu())
        labels.append(torch.as_tensor(y))
    module.train(was_training)
    return torch.cat(logits), torch.cat(labels), (torch.cat(feats) if return_features else None)


def evaluate(module: nn.Module, data: Dataset, batch_size: int, device: Any, prefix: str = "") -> dict[str, float]:
    """Loss and accuracy of ``module`` on labeled ``data``."""
    return {k: float(v.mean()) for k, v in evaluate_examples(module, data, batch_size, device, prefix).items()}


def evaluate_examples(
    module: nn.Module, data: Dataset, batch_size: int, device: Any, prefix: str = ""
) -> dict[str, torch.Tensor]:
    """Per-example loss and correctness (1.0/0.0) on the labeled items of ``data``."""
    logits, y, _ = predict_logits(module, data, max(batch_size, 128), device)
    known = y >= 0
    if not known.any():
        return {}
    loss = F.cross_entropy(logits[known], y[known], reduction="none")
    correct = (logits[known].argmax(1) == y[known]).float()
    return {f"{prefix}loss": loss, f"{prefix}accuracy": correct}


def move_to(x: Any, device: Any, dtype: torch.dtype | None = None) -> Any:
    """A tensor, or a dict of tensors (a token batch), on ``device``; floating tensors as ``dtype``
    when given (a model trained in double precision reads its inputs in double)."""
    if torch.is_tensor(x):
        return x.to(device, dtype) if dtype is not None and x.is_floating_point() else x.to(device)
    if isinstance(x, dict):
        return {k: move_to(v, device, dtype) for k, v in x.items()}
    return x


def module_device(module: nn.Module) -> torch.device:
    """Where ``module``'s first parameter (else buffer) lives; the CPU for a module with neither."""
    first: torch.Tensor | None = next(module.parameters(), None)
    if first is None:
        first = next(module.buffers(), None)
    return first.device if first is not None else torch.device("cpu")


def to_cpu(module: M) -> M:
    """``module`` moved to the CPU, its GPU memory handed back: a fitted model comes back there, as
    Lightning's trainer leaves it (``Run.predict(device=...)`` and ``graft predict --device`` move it)."""
    on_gpu = module_device(module).type == "cuda"
    module.cpu()
    if on_gpu:
        torch.cuda.empty_cache()
    return module


def input_dtype(module: nn.Module) -> torch.dtype | None:
    """float64 for a module in double precision (``--precision 64-true`` while it trains), else None."""
    param = next(module.parameters(), None)
    return torch.float64 if param is not None and param.dtype == torch.float64 else None


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()
