"""CORAL (Sun & Saenko 2016): match the second-order statistics of two batches."""

from __future__ import annotations

from torch import Tensor

from graft.losses._checks import check_matrix, check_same_width


def covariance(x: Tensor) -> Tensor:
    """Unbiased covariance ``[D, D]`` of the rows of ``x [N, D]`` (``N >= 2``)."""
    check_matrix(x, "x", min_rows=2)
    centred = x - x.mean(0, keepdim=True)
    return centred.T @ centred / (x.shape[0] - 1)


def coral(source: Tensor, target: Tensor) -> Tensor:
    """CORAL loss ``||C_s - C_t||_F^2 / (4 d^2)`` with unbiased covariances.

    Args:
        source: Source features ``[Ns, D]``, ``Ns >= 2``.
        target: Target features ``[Nt, D]``, ``Nt >= 2``; batch sizes may differ.

    Returns:
        A scalar tensor, 0 when both batches have the same covariance.
    """
    check_matrix(source, "source", min_rows=2)
    check_matrix(target, "target", min_rows=2)
    check_same_width(source, target, "source", "target")
    d = source.shape[1]
    return (covariance(source) - covariance(target)).pow(2).sum() / (4.0 * d * d)
