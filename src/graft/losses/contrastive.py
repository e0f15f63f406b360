"""Losses that pull examples of a class together in embedding space.

* :func:`pair_cosine_loss` — SetFit's objective (Tunstall et al., 2022) over every pair of a
  batch at once: the cosine similarity of a same-class pair regresses to 1, of a
  different-class pair to 0. Positives and negatives are weighted equally, as SetFit's
  oversampling of positive pairs makes them.
* :func:`supervised_contrastive_loss` — SupCon (Khosla et al., 2020): for each anchor, a
  softmax over the batch's similarities that puts its mass on the anchor's positives.
* :func:`nt_xent_loss` — SimCLR's NT-Xent (Chen et al., 2020): SupCon where the only positive
  of a view is the other view of the same example (no labels needed).

Both take embeddings ``[B, D]`` and labels ``[B]``, and return 0 (with a gradient) for a
batch without a single same-class pair, which then teaches nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _pair_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = labels.view(-1, 1) == labels.view(1, -1)
    off_diagonal = ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & off_diagonal, ~same


def pair_cosine_loss(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean squared error of pairwise cosine similarities against 1 (same class) / 0 (other).

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        >>> float(pair_cosine_loss(e, torch.tensor([0, 0, 1])))
        0.0
    """
    z = F.normalize(embeddings.float(), dim=1)
    sim = z @ z.T
    pos, neg = _pair_masks(labels)
    zero = sim.sum() * 0.0
    if not pos.any():
        return zero
    pos_loss = (sim[pos] - 1).pow(2).mean()
    if not neg.any():
        return pos_loss
    return (pos_loss + sim[neg].pow(2).mean()) / 2

def supervised_contrastive_loss(embeddings: torch.Tensor, labels: torch.Tensor,
                                temperature: float = 0.1) -> torch.Tensor:
    """SupCon: ``−mean log softmax`` of each anchor's positives among all other examples.

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
        >>> round(float(supervised_contrastive_loss(e, torch.tensor([0, 0, 1, 1]), 0.1)), 4)
        0.0001
    """
    z = F.normalize(embeddings.float(), dim=1)
    logits = z @ z.T / temperature
    pos, _ = _pair_masks(labels)
    self_mask = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    has_pos = pos.any(1)
    if not has_pos.any():
        return logits.masked_fill(self_mask, 0).sum() * 0.0
    per_anchor = -(log_prob.masked_fill(~pos, 0).sum(1)[has_pos] / pos.sum(1)[has_pos])
    return per_anchor.mean()


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """NT-Xent over two views ``[B, D]`` of the same B examples: each view must pick its twin
    among the other 2B − 1 embeddings.

    Example:
        >>> z = torch.eye(4)
        >>> round(float(nt_xent_loss(z, z, 0.1)), 3)
        0.0
    """
    n = len(z1)
    pairs = torch.arange(n, device=z1.device)
    return supervised_contrastive_loss(torch.cat([z1, z2]), torch.cat([pairs, pairs]), temperature)
