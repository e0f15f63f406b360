"""Prediction entropy and information maximization (SHOT's IM loss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from graft.losses._checks import check_reduction, reduce

# log(0) guard for probability inputs; p * log(p) -> 0 as p -> 0 anyway.
_EPS = 1e-12


def entropy(logits_or_probs: Tensor, from_logits: bool = True, reduction: str = "mean") -> Tensor:
    """Shannon entropy (natural log) of each prediction, over the last dimension.

    Args:
        logits_or_probs: Scores ``[..., C]``: logits, or probabilities summing to 1.
        from_logits: Whether the input holds logits (softmax is applied) or probabilities.
        reduction: ``mean``, ``sum`` or ``none`` (per-sample values, shape ``[...]``).

    Example:
        >>> entropy(torch.zeros(2, 4))
        tensor(1.3863)
    """
    check_reduction(reduction, "entropy")
    if from_logits:
        logp = F.log_softmax(logits_or_probs, dim=-1)
        h = -(logp.exp() * logp).sum(-1)
    else:
        p = logits_or_probs
        h = -(p * p.clamp_min(_EPS).log()).sum(-1)
    return reduce(h, reduction)


def information_maximization(logits: Tensor) -> Tensor:
    """IM loss: mean per-sample entropy minus the entropy of the mean prediction.

    Lower is better: confident predictions (small first term) that still spread
    over all classes (large second term). This is SHOT's ``L_ent + L_div``.

    Args:
        logits: Target logits ``[N, C]``.
    """
    probs = torch.softmax(logits, dim=-1)
    mean_probs = probs.reshape(-1, probs.shape[-1]).mean(0)
    return entropy(logits, reduction="mean") - entropy(mean_probs, from_logits=False, reduction="sum")
