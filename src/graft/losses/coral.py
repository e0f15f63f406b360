"""CORAL (Sun & Saenko 2016): match the second-order statistics of two batches.

:func:`coral` is the paper's loss, divided by ``4·d²``: its size follows the features' scale to the
fourth power, so on small features it vanishes (about 1e-5 on MiniLM's pooled sentence embeddings, where
``coral`` then trained as source-only does). :func:`relative_coral` divides the same gap by the
covariances' own size instead, so it reads the same whatever the features' scale.
"""

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
    cs, ct = _covariances(source, target)
    d = source.shape[1]
    return (cs - ct).pow(2).sum() / (4.0 * d * d)


def relative_coral(source: Tensor, target: Tensor, eps: float = 1e-12) -> Tensor:
    """CORAL's gap relative to the covariances' size: ``||C_s - C_t||_F^2 / (||C_s||_F^2 + ||C_t||_F^2)``.

    In [0, 2]; unchanged when both batches are scaled by one factor, so shrinking the features (a smaller
    last layer scales both domains alike) cannot lower it, as it lowers the paper's loss.

    Args:
        source: Source features ``[Ns, D]``, ``Ns >= 2``.
        target: Target features ``[Nt, D]``, ``Nt >= 2``; batch sizes may differ.
        eps: Floor of the denominator (two constant batches give 0).
    """
    cs, ct = _covariances(source, target)
    return (cs - ct).pow(2).sum() / (cs.pow(2).sum() + ct.pow(2).sum()).clamp_min(eps)


def _covariances(source: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Both batches' covariances, once each is checked (two rows or more, the same width)."""
    check_matrix(source, "source", min_rows=2)
    check_matrix(target, "target", min_rows=2)
    check_same_width(source, target, "source", "target")
    return covariance(source), covariance(target)
