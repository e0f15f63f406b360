"""What FixMatch-style strategies share (``self-training`` across domains, ``semi-supervised``
within one): the options of the weak and strong views, the views, and the masked loss.

A weakly augmented view of an unlabeled batch gives pseudo-labels where it is confident; the
strongly augmented view of the same batch learns them (Sohn et al., 2020).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from graft.data.batch_augment import cutout_batch, photometric_batch, random_affine_batch
from graft.options import Search, option
from graft.strategies.base import StrategyConfig, module_extras


@dataclass
class PseudoLabelOptions(StrategyConfig):
    """Options of the pseudo-labelling strategies; each field's help is in its declaration."""

    threshold: float = option(0.95, help="Confidence a weak-view prediction needs to become a pseudo-label.",
                              ge=0, le=1, search=Search(0.7, 0.99))
    weak_shift: float = option(0.0625, help="Largest random shift of the weak view (fraction of the size).",
                               ge=0, lt=1)
    strong_shift: float = option(0.125, help="Largest random shift of the strong view (fraction of the size).",
                                 ge=0, lt=1)
    strong_rotate: float = option(15.0, help="Largest rotation of the strong view, in degrees.", ge=0, le=180)
    cutout: float = option(0.3, help="Side of the square cut out of the strong view (fraction of the size).",
                           ge=0, lt=1)
    strong_photometric: float | None = option(
        None, help="Images: largest random contrast, brightness (in standard deviations) and colour-gain change "
        "of the strong view, around each image's mean (0: none).", ge=0, le=1, example=0.5,
        unset="use 0, or in self-training follow the polarity measurement (0.5 when the target's polarity differs "
        "from the source's)")
    strong_invert: float | None = option(
        None, help="Images: probability that the strong view is also inverted about its mean (0: none).", ge=0,
        le=1, example=0.3, unset="use 0, or in self-training follow the polarity measurement "
        "(0.3 when the target's polarity differs from the source's)")
    # So one dominant class cannot take over the pseudo-labels.
    distribution_alignment: bool = option(
        True, help="Rescale weak-view probabilities by the target class shares over their running mean "
        "before thresholding (ReMixMatch's distribution alignment).")
    token_dropout: float = option(0.15, help="Text: fraction of the tokens the strong view hides (masked out "
                                  "of attention; the first token is always kept).", ge=0, lt=1)


def weak_strong_views(x: Any, options: PseudoLabelOptions) -> tuple[Any, Any]:
    """The weak and the strong view of an unlabeled batch. Images: a small shift, and a larger
    shift with rotation and cutout. Text: the batch, and the batch with ``token_dropout`` of its
    tokens hidden. Tables: the batch itself for both (the model's dropout is then the only
    difference)."""
    if isinstance(x, dict) and "attention_mask" in x:
        return x, drop_tokens(x, options.token_dropout)
    if not torch.is_tensor(x) or x.ndim != 4:
        return x, x
    weak = random_affine_batch(x, options.weak_shift, 0.0, (1.0, 1.0))
    strong = cutout_batch(random_affine_batch(x, options.strong_shift, options.strong_rotate, (0.9, 1.1)),
                          options.cutout)
    strong = photometric_batch(strong, options.strong_photometric or 0.0, options.strong_invert or 0.0)
    return weak, strong


class DistributionAlignment(nn.Module):
    """Distribution alignment (Berthelot et al., 2020, ReMixMatch): weak-view probabilities times
    ``target / running mean of the predictions``, renormalised, so that the pseudo-labels follow
    the expected class shares instead of the model's current bias. The running mean is a buffer,
    so it checkpoints and resumes with the model."""

    mean: torch.Tensor
    target: torch.Tensor

    def __init__(self, target: torch.Tensor, momentum: float = 0.99) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("mean", torch.full_like(target, 1.0 / len(target), dtype=torch.float32))
        self.register_buffer("target", (target / target.sum()).float(), persistent=False)

    @torch.no_grad()
    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        self.mean.mul_(self.momentum).add_(probs.mean(0).to(self.mean), alpha=1 - self.momentum)
        aligned = probs * (self.target / self.mean.clamp_min(1e-6)).to(probs)
        return aligned / aligned.sum(1, keepdim=True)


def class_shares(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """The class shares of labels ``y`` (``-1``, unknown, skipped); a class with none keeps a sliver."""
    counts = torch.bincount(y[y >= 0].long(), minlength=n_classes).double()
    return (counts + 1e-3) / (counts + 1e-3).sum()


def weak_view_probabilities(module: nn.Module, weak_logits: torch.Tensor, options: PseudoLabelOptions) -> torch.Tensor:
    """The weak view's class probabilities that pseudo-labels are read from: aligned by the
    module's ``prior`` extra (a :class:`DistributionAlignment`) when ``distribution_alignment`` is on."""
    probs = torch.softmax(weak_logits.detach(), 1)
    return module_extras(module)["prior"](probs) if options.distribution_alignment else probs


def pseudo_label_loss(strong_logits: torch.Tensor, weak_probs: torch.Tensor,
                      threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the strong view against the confident weak-view labels; returns the
    loss (averaged over the whole batch) and the mask of confident examples."""
    conf, pseudo = weak_probs.max(1)
    mask = (conf >= threshold).float()
    return (F.cross_entropy(strong_logits, pseudo, reduction="none") * mask).mean(), mask


def drop_tokens(batch: dict[str, torch.Tensor], rate: float) -> dict[str, torch.Tensor]:
    """A token batch with a random ``rate`` of its real tokens masked out of attention (the
    first, a [CLS] or the text's start, is kept so that no text is emptied)."""
    if rate <= 0:
        return batch
    mask = batch["attention_mask"]
    keep = torch.rand(mask.shape, device=mask.device) >= rate
    keep[:, 0] = True
    return {**batch, "attention_mask": mask * keep.to(mask.dtype)}
