"""Regularizers of fine-tuning that keep a small target from pulling a pretrained model apart.

* :func:`l2_sp` — L2-SP (Li et al., 2018): weight decay toward the pretrained weights, not
  toward zero, so what the source taught is the default the target must argue against.
* :func:`batch_spectral_shrinkage` — BSS (Chen et al., 2019): the smallest singular values of a
  batch's features carry the least transferable, most target-specific directions; shrinking
  them curbs negative transfer on small targets.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def l2_sp(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """``Σ ||w − w₀||²`` over ``(weight, starting weight)`` pairs.

    Example:
        >>> w = torch.nn.Parameter(torch.ones(3))
        >>> float(l2_sp([(w, torch.zeros(3))]))
        3.0
    """
    total: torch.Tensor | None = None
    for weight, anchor in pairs:
        term = (weight - anchor.to(weight.device, weight.dtype)).pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("l2_sp needs at least one (weight, anchor) pair")
    return total


def batch_spectral_shrinkage(features: torch.Tensor, k: int = 1) -> torch.Tensor:
    """``Σ σᵢ²`` over the ``k`` smallest singular values of a ``[B, D]`` feature batch.

    Example:
        >>> float(batch_spectral_shrinkage(torch.diag(torch.tensor([3.0, 2.0, 0.5])), k=1))
        0.25
    """
    if features.ndim != 2:
        raise ValueError(f"features must be [batch, dim]; got shape {tuple(features.shape)}")
    sigma = torch.linalg.svdvals(features.float())
    k = max(0, min(k, sigma.numel()))
    return sigma[sigma.numel() - k:].pow(2).sum()
