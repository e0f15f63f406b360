"""Regularizers of fine-tuning that keep a small target from pulling a pretrained model apart.

* :func:`l2_sp` — L2-SP (Li et al., 2018): weight decay toward the pretrained weights, not
  toward zero, so what the source taught is the default the target must argue against.
* :func:`attentive_feature_distance` with :func:`channel_attention` — DELTA (Li et al., 2019):
  keep the feature maps, not the weights, near the pretrained model's, weighting each channel
  by how much the target task needs it.
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


def channel_attention(importance: torch.Tensor) -> torch.Tensor:
    """DELTA's channel weights from each channel's estimated loss increase when removed.

    A softmax over channels of the importances measured in their own spread (so the
    weights do not depend on the loss's scale), times the channel count: uniform
    importances give every channel the weight 1.

    Example:
        >>> channel_attention(torch.tensor([0.2, 0.2, 0.2])).tolist()
        [1.0, 1.0, 1.0]
    """
    imp = importance.double()
    spread = imp.std() if imp.numel() > 1 else imp.new_tensor(0.0)
    scaled = imp / spread if spread > 1e-12 else torch.zeros_like(imp)
    return (torch.softmax(scaled, 0) * imp.numel()).float()


def channel_axes(feature_map: torch.Tensor) -> tuple[int, tuple[int, ...]]:
    """The channel axis of a feature map and the axes a channel spreads over: ``[B, C, H, W]``
    (convolutions) → 1, (2, 3); ``[B, T, C]`` (transformers) → 2, (1,); ``[B, C]`` → 1, ()."""
    if feature_map.ndim == 4:
        return 1, (2, 3)
    if feature_map.ndim == 3:
        return 2, (1,)
    if feature_map.ndim == 2:
        return 1, ()
    raise ValueError(f"feature maps must be 2-, 3- or 4-dimensional; got shape {tuple(feature_map.shape)}")


def attentive_feature_distance(maps: list[torch.Tensor], anchors: list[torch.Tensor],
                               weights: list[torch.Tensor]) -> torch.Tensor:
    """DELTA's behavioural regularizer (Li et al., 2019): ``½ Σ_layers Σ_batch Σ_c w_c ·
    mean_spatial (a − a₀)²`` between a model's feature maps and the pretrained model's.

    Example:
        >>> a = torch.ones(2, 3, 2, 2)
        >>> float(attentive_feature_distance([a], [torch.zeros_like(a)], [torch.ones(3)]))
        3.0
    """
    total: torch.Tensor | None = None
    for fm, fm0, w in zip(maps, anchors, weights):
        _, spread = channel_axes(fm)
        sq = (fm.float() - fm0.detach().float()).pow(2)
        per_channel = sq.mean(dim=spread) if spread else sq  # [B, C]
        term = 0.5 * (per_channel * w.to(per_channel.device)).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("attentive_feature_distance needs at least one feature map")
    return total
