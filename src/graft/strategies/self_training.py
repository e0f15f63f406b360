"""self-training: confidence-thresholded pseudo-labels on the target, FixMatch-style.

Each step pseudo-labels a weakly augmented view of the target batch and trains the
strongly augmented view to predict the confident ones (Sohn et al. 2020), next to the
cross-entropy on the labeled source.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from graft.engine.trainer import Batch
from graft.strategies.adaptation import AdaptationConfig, DomainAdaptation
from graft.strategies.base import FitContext, register_strategy


@dataclass
class SelfTrainingConfig(AdaptationConfig):
    """Options of ``self-training``.

    Attributes:
        threshold: Confidence a weak-view prediction needs to become a pseudo-label.
        weak_shift: Largest random shift of the weak view (fraction of the size).
        strong_shift: Largest random shift of the strong view.
        strong_rotate: Largest rotation of the strong view, in degrees.
        cutout: Side of the square cut out of the strong view (fraction of the size).
        distribution_alignment: Divide weak-view probabilities by the running mean
            target prediction before thresholding (ReMixMatch), so one dominant class
            cannot take over the pseudo-labels.
        im_weight: Weight of information maximisation on the weak view (mean entropy
            minus entropy of the mean prediction): confident target predictions that
            stay spread over the classes, so pseudo-labelling cannot collapse.
    """

    threshold: float = 0.95
    weak_shift: float = 0.0625
    strong_shift: float = 0.125
    strong_rotate: float = 15.0
    cutout: float = 0.3
    distribution_alignment: bool = True
    im_weight: float = 1.0


@register_strategy("self-training", "FixMatch-style pseudo-labels: weak view labels, strong view learns")
class SelfTraining(DomainAdaptation):
    Config = SelfTrainingConfig
    config: SelfTrainingConfig

    def extra_modules(self, ctx: FitContext) -> dict[str, nn.Module]:
        return {"prior": RunningMean(ctx.model.num_classes)}

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.config
        xs, ys, xt = batch["x"], batch["y"], batch["x_t"]
        if not torch.is_tensor(xt) or xt.ndim != 4:
            weak, strong = xt, xt  # tables and text: no geometric views
        else:
            weak = random_affine_batch(xt, cfg.weak_shift, 0.0, (1.0, 1.0))
            strong = cutout_batch(random_affine_batch(xt, cfg.strong_shift, cfg.strong_rotate, (0.9, 1.1)),
                                  cfg.cutout)
        n, m = len(xs), len(xt)
        logits = module(torch.cat([xs, weak, strong]))
        ls, lw, lst = logits[:n], logits[n:n + m], logits[n + m:]
        ce = F.cross_entropy(ls, ys)
        probs = torch.softmax(lw, 1)
        weak_probs = probs.detach()
        if cfg.distribution_alignment:
            prior = module.extras["prior"]
            prior.update(weak_probs.mean(0))
            weak_probs = weak_probs / prior.mean.clamp_min(1e-6)
            weak_probs = weak_probs / weak_probs.sum(1, keepdim=True)
        conf, pseudo = weak_probs.max(1)
        mask = (conf >= cfg.threshold).float()
        unsup = (F.cross_entropy(lst, pseudo, reduction="none") * mask).mean()
        loss = ce + cfg.trade_off * unsup
        out = {"ce": ce.detach(), "transfer_loss": unsup.detach(), "mask_rate": mask.mean(),
               "accuracy": (ls.detach().argmax(1) == ys).float().mean()}
        if cfg.im_weight > 0:
            from graft.losses import information_maximization

            im = information_maximization(lw)
            loss = loss + cfg.im_weight * im
            out["im_loss"] = im.detach()
        if cfg.mcc_weight > 0:
            from graft.losses import mcc_loss

            loss = loss + cfg.mcc_weight * mcc_loss(lw)
        out["loss"] = loss
        return out


class RunningMean(nn.Module):
    """Exponential moving average of the mean target prediction (a checkpointed buffer)."""

    def __init__(self, num_classes: int, momentum: float = 0.99) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("mean", torch.full((num_classes,), 1.0 / num_classes))

    @torch.no_grad()
    def update(self, batch_mean: torch.Tensor) -> None:
        self.mean.mul_(self.momentum).add_(batch_mean.to(self.mean), alpha=1 - self.momentum)


def random_affine_batch(x: torch.Tensor, shift: float, rotate_deg: float,
                        scale: tuple[float, float]) -> torch.Tensor:
    """Per-example random shift, rotation and zoom of a batch ``[B, C, H, W]``.

    Uncovered pixels take each image's minimum (the background of normalised digits).
    """
    b = x.shape[0]
    angle = (torch.rand(b, device=x.device) * 2 - 1) * rotate_deg * torch.pi / 180
    zoom = scale[0] + (scale[1] - scale[0]) * torch.rand(b, device=x.device)
    t = (torch.rand(b, 2, device=x.device) * 2 - 1) * shift * 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, t[:, 0]], 1), torch.stack([sin, cos, t[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    floor = x.amin(dim=(1, 2, 3), keepdim=True)
    moved = F.grid_sample(x - floor, grid, padding_mode="zeros", align_corners=False)
    return moved + floor


def cutout_batch(x: torch.Tensor, size: float) -> torch.Tensor:
    """Set one random square per example (side ``size`` × image side) to the image minimum."""
    if size <= 0:
        return x
    b, _, h, w = x.shape
    sh, sw = max(1, int(h * size)), max(1, int(w * size))
    cy = torch.randint(0, h, (b,), device=x.device)
    cx = torch.randint(0, w, (b,), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    box = ((ys - cy.view(b, 1, 1)).abs() <= sh // 2) & ((xs - cx.view(b, 1, 1)).abs() <= sw // 2)
    floor = x.amin(dim=(1, 2, 3), keepdim=True)
    return torch.where(box.unsqueeze(1), floor, x)
