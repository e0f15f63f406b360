"""Shape and option checks shared by the loss functions.

Losses run inside the training step, so the checks are cheap (shapes and Python
numbers only, never a device sync) and raise graft's own errors.
"""

from __future__ import annotations

from torch import Tensor

from graft.errors import ConfigError, DataError

REDUCTIONS = ("mean", "sum", "none")


def check_matrix(x: Tensor, name: str, min_rows: int = 1) -> None:
    """Raise a DataError unless ``x`` is a 2-D ``[N, D]`` tensor with ``N >= min_rows``."""
    if x.ndim != 2:
        raise DataError(
            f"'{name}' must be a 2-D tensor [batch, features]. Got shape {tuple(x.shape)} instead. "
            "Flatten the features (x.flatten(1)) before the loss."
        )
    if x.shape[0] < min_rows:
        raise DataError(
            f"'{name}' needs at least {min_rows} rows. Got {x.shape[0]} instead. Use a larger batch."
        )


def check_same_width(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Raise a DataError unless two matrices have the same number of columns."""
    if a.shape[-1] != b.shape[-1]:
        raise DataError(
            f"'{name_a}' and '{name_b}' must have the same feature width. "
            f"Got {a.shape[-1]} and {b.shape[-1]} instead."
        )


def check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Raise a DataError unless two tensors have the same shape."""
    if a.shape != b.shape:
        raise DataError(
            f"'{name_a}' and '{name_b}' must have the same shape. "
            f"Got {tuple(a.shape)} and {tuple(b.shape)} instead."
        )


def check_positive(value: float, name: str, func: str) -> None:
    """Raise a ConfigError unless ``value`` is a finite number > 0."""
    if not (value > 0 and value != float("inf")):
        raise ConfigError(f"The '{name}' parameter of {func} must be a number > 0. Got {value!r} instead.")


def check_reduction(reduction: str, func: str) -> None:
    """Raise a ConfigError for an unknown reduction name."""
    if reduction not in REDUCTIONS:
        raise ConfigError(
            f"The 'reduction' parameter of {func} must be one of {', '.join(REDUCTIONS)}. "
            f"Got {reduction!r} instead."
        )


def reduce(values: Tensor, reduction: str) -> Tensor:
    """Apply a checked reduction to per-sample values."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values
