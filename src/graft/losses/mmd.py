"""Maximum mean discrepancy between a source and a target batch (DAN's MK-MMD).

All estimators take ``source [Ns, D]`` and ``target [Nt, D]``; the two batch sizes
may differ (the quadratic estimator averages each kernel block separately).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from graft.errors import ConfigError, DataError
from graft.losses._checks import check_matrix, check_positive, check_same_width

# Floor of a bandwidth: a batch of identical points has zero spread, and 0/0 would be NaN.
_MIN_BANDWIDTH = 1e-12


def squared_distances(x: Tensor, y: Tensor) -> Tensor:
    """Pairwise squared Euclidean distances ``[N, M]`` between the rows of ``x`` and ``y``."""
    d = x.pow(2).sum(1, keepdim=True) + y.pow(2).sum(1) - 2.0 * (x @ y.T)
    # The expansion can dip just below zero from rounding.
    return d.clamp_min(0.0)


def gaussian_kernels(x: Tensor, y: Tensor, bandwidths: Sequence[float] | Tensor) -> Tensor:
    """Sum of Gaussian kernels ``sum_b exp(-||x_i - y_j||^2 / b)``, shape ``[N, M]``.

    Args:
        x: Rows ``[N, D]``.
        y: Rows ``[M, D]``.
        bandwidths: One or more bandwidths ``b`` in squared-distance units (``b = 2 sigma^2``).

    Example:
        >>> gaussian_kernels(torch.zeros(1, 2), torch.ones(1, 2), [2.0])
        tensor([[0.3679]])
    """
    check_matrix(x, "x")
    check_matrix(y, "y")
    check_same_width(x, y, "x", "y")
    bw = torch.as_tensor(bandwidths, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
    if bw.numel() == 0:
        raise ConfigError("The 'bandwidths' parameter of gaussian_kernels must hold at least one value. Got none.")
    return _kernel_sum(squared_distances(x, y), bw)


def _kernel_sum(sq_dists: Tensor, bandwidths: Tensor) -> Tensor:
    return torch.exp(-sq_dists.unsqueeze(0) / bandwidths.clamp_min(_MIN_BANDWIDTH)).sum(0)


def mean_pairwise_sq_distance(x: Tensor) -> Tensor:
    """Mean of ``||x_i - x_j||^2`` over pairs ``i != j``, without the ``[N, N]`` matrix.

    Equals twice the trace of the unbiased covariance; centring first keeps it exact
    when the rows sit far from the origin.
    """
    centred = x - x.mean(0, keepdim=True)
    return 2.0 * centred.pow(2).sum() / (x.shape[0] - 1)


def mk_bandwidths(
    joint: Tensor, kernel_mul: float = 2.0, kernel_num: int = 5, fix_sigma: float | None = None
) -> Tensor:
    """The ``kernel_num`` bandwidths of MK-MMD, a geometric ladder centred on the data's scale.

    The central bandwidth is the mean pairwise squared distance of ``joint`` (or
    ``fix_sigma``); the ladder runs from ``centre / kernel_mul**(kernel_num // 2)``
    upwards by factors of ``kernel_mul``. It is detached: the features must not
    shrink the MMD by inflating the bandwidth.
    """
    if fix_sigma is not None:
        check_positive(fix_sigma, "fix_sigma", "mk_mmd")
        centre = torch.tensor(float(fix_sigma), dtype=joint.dtype, device=joint.device)
    else:
        centre = mean_pairwise_sq_distance(joint.detach())
    base = centre / kernel_mul ** (kernel_num // 2)
    ladder = kernel_mul ** torch.arange(kernel_num, dtype=joint.dtype, device=joint.device)
    return (base * ladder).reshape(-1, 1, 1)


def mk_mmd(
    source: Tensor,
    target: Tensor,
    kernel_mul: float = 2.0,
    kernel_num: int = 5,
    fix_sigma: float | None = None,
    linear: bool = False,
) -> Tensor:
    """Multi-kernel MMD² between two batches, as in DAN (Long et al. 2015).

    The kernel is an equal-weight sum of ``kernel_num`` Gaussians (see
    :func:`mk_bandwidths`). The default estimator is the biased (V-statistic)
    ``mean K_ss + mean K_tt - 2 mean K_st``; it is >= 0 and exactly 0 for identical
    batches. ``linear=True`` is Gretton's linear-time unbiased estimator over
    consecutive pairs; it uses the first ``2 * (min(Ns, Nt) // 2)`` rows of each
    batch and can be slightly negative.

    Args:
        source: Source features ``[Ns, D]``.
        target: Target features ``[Nt, D]``.
        kernel_mul: Ratio between consecutive bandwidths.
        kernel_num: Number of Gaussian kernels.
        fix_sigma: Central bandwidth (squared-distance units) instead of the data's.
        linear: Use the linear-time estimator.

    Returns:
        A scalar tensor, differentiable in both inputs.
    """
    check_matrix(source, "source", min_rows=2 if linear else 1)
    check_matrix(target, "target", min_rows=2 if linear else 1)
    check_same_width(source, target, "source", "target")
    check_positive(kernel_mul, "kernel_mul", "mk_mmd")
    if int(kernel_num) != kernel_num or kernel_num < 1:
        raise ConfigError(f"The 'kernel_num' parameter of mk_mmd must be an integer >= 1. Got {kernel_num!r} instead.")
    joint = torch.cat([source, target])
    if joint.shape[0] < 2:
        raise DataError("mk_mmd needs at least two rows in source and target together. Got one.")
    bandwidths = mk_bandwidths(joint, kernel_mul, int(kernel_num), fix_sigma)
    if linear:
        return _linear_time_mmd(source, target, bandwidths)
    k = _kernel_sum(squared_distances(joint, joint), bandwidths)
    ns = source.shape[0]
    return k[:ns, :ns].mean() + k[ns:, ns:].mean() - 2.0 * k[:ns, ns:].mean()


def _linear_time_mmd(source: Tensor, target: Tensor, bandwidths: Tensor) -> Tensor:
    m = min(source.shape[0], target.shape[0]) // 2
    s1, s2 = source[0 : 2 * m : 2], source[1 : 2 * m : 2]
    t1, t2 = target[0 : 2 * m : 2], target[1 : 2 * m : 2]

    def k(a: Tensor, b: Tensor) -> Tensor:
        d = (a - b).pow(2).sum(1)
        return torch.exp(-d.unsqueeze(0) / bandwidths.reshape(-1, 1).clamp_min(_MIN_BANDWIDTH)).sum(0)

    return (k(s1, s2) + k(t1, t2) - k(s1, t2) - k(s2, t1)).mean()


def linear_mmd(source: Tensor, target: Tensor) -> Tensor:
    """MMD² with a linear kernel: ``||mean(source) - mean(target)||^2``.

    Example:
        >>> linear_mmd(torch.zeros(3, 2), torch.ones(4, 2))
        tensor(2.)
    """
    check_matrix(source, "source")
    check_matrix(target, "target")
    check_same_width(source, target, "source", "target")
    return (source.mean(0) - target.mean(0)).pow(2).sum()
