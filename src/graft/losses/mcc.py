"""Minimum Class Confusion (Jin et al. 2020) on unlabeled target predictions."""

from __future__ import annotations

import torch
from torch import Tensor

from graft.losses._checks import check_matrix, check_positive
from graft.losses.entropy import entropy


def mcc_loss(target_logits: Tensor, temperature: float = 2.5) -> Tensor:
    """MCC loss: the mean off-diagonal mass of the row-normalised class-confusion matrix.

    Steps: ``P = softmax(logits / T)``; example weights ``w = 1 + exp(-H(P))``
    (detached; confident examples count more), rescaled to sum to the batch size;
    ``C = P^T diag(w) P``; each row of ``C`` divided by its sum; loss
    ``(sum(C) - trace(C)) / num_classes``. ``C`` is symmetric before normalising, so
    row and column normalisation give the same loss.

    Args:
        target_logits: Target logits ``[N, C]``.
        temperature: Softmax temperature (2.5 in the paper).

    Returns:
        A scalar tensor in ``[0, (C - 1) / C]``.
    """
    check_matrix(target_logits, "target_logits")
    check_positive(temperature, "temperature", "mcc_loss")
    n, num_classes = target_logits.shape
    probs = torch.softmax(target_logits / temperature, dim=1)
    w = 1.0 + torch.exp(-entropy(probs.detach(), from_logits=False, reduction="none"))
    w = n * w / w.sum()
    confusion = (probs * w.unsqueeze(1)).T @ probs
    confusion = confusion / confusion.sum(1, keepdim=True).clamp_min(torch.finfo(confusion.dtype).tiny)
    return (confusion.sum() - confusion.trace()) / num_classes
