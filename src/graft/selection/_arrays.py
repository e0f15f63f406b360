"""Turning user arrays (NumPy or torch) into checked float64 NumPy arrays."""

from __future__ import annotations

import numpy as np
import torch

from graft.errors import DataError

ArrayLike = np.ndarray | torch.Tensor


def as_matrix(x: ArrayLike | None, name: str, min_rows: int = 1) -> np.ndarray:
    """A finite float64 ``[N, D]`` array from a NumPy array, tensor or nested list."""
    arr = _to_numpy(x, name)
    if arr.ndim != 2:
        raise DataError(f"'{name}' must be a 2-D array [samples, features]. Got shape {arr.shape} instead.")
    if arr.shape[0] < min_rows:
        raise DataError(f"'{name}' needs at least {min_rows} rows. Got {arr.shape[0]} instead.")
    if not np.isfinite(arr).all():
        raise DataError(f"'{name}' holds NaN or infinite values. Check the model's outputs for divergence.")
    return arr


def as_vector(x: ArrayLike | None, name: str, n: int) -> np.ndarray:
    """A finite float64 ``[n]`` array."""
    arr = _to_numpy(x, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DataError(f"'{name}' must be a 1-D array of {n} values. Got shape {arr.shape} instead.")
    if not np.isfinite(arr).all():
        raise DataError(f"'{name}' holds NaN or infinite values.")
    return arr


def _to_numpy(x: ArrayLike | None, name: str) -> np.ndarray:
    if x is None:
        raise DataError(f"'{name}' is missing.")
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"'{name}' must be a numeric array. Got {type(x).__name__} instead.") from err


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def row_entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy (natural log) of each row of a probability matrix."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(probs), 0.0)
    return -terms.sum(-1)
