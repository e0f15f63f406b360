"""semi-supervised: fine-tuning on the few labels plus FixMatch on the unlabeled rest.

A few-label user nearly always has unlabeled examples of the same task: with
``--labels-per-class K`` the rest of the training split is that stream. Each step trains
the labeled batch with cross-entropy and, on an unlabeled batch, the strongly augmented
view to predict the confident predictions of the weakly augmented view (Sohn et al.,
2020), from the same LP-FT start as ``finetune`` (so it competes with the probe too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from graft.data.batch_augment import cutout_batch, random_affine_batch
from graft.data.batching import concat_inputs, input_count
from graft.engine.trainer import Batch
from graft.options import option
from graft.strategies.base import register_strategy
from graft.strategies.finetune import Finetune, FinetuneConfig


@dataclass
class SemiSupervisedConfig(FinetuneConfig):
    """Options of ``semi-supervised`` (and those of ``finetune``); each field's help is in its declaration."""

    threshold: float = option(0.95, help="Confidence a weak-view prediction needs to become a pseudo-label.",
                              ge=0, le=1)
    unlabeled_weight: float = option(1.0, help="Weight of the pseudo-label loss on the unlabeled stream.", ge=0)
    weak_shift: float = option(0.0625, help="Largest random shift of the weak view (fraction of the size).",
                               ge=0, lt=1)
    strong_shift: float = option(0.125, help="Largest random shift of the strong view (fraction of the size).",
                                 ge=0, lt=1)
    strong_rotate: float = option(15.0, help="Largest rotation of the strong view, in degrees.", ge=0, le=180)
    cutout: float = option(0.3, help="Side of the square cut out of the strong view (fraction of the size).",
                           ge=0, lt=1)


@register_strategy("semi-supervised", "finetune plus FixMatch pseudo-labels on the unlabeled rest of the split")
class SemiSupervised(Finetune):
    Config = SemiSupervisedConfig
    config: SemiSupervisedConfig
    needs: ClassVar[frozenset[str]] = frozenset({"unlabeled"})

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.config
        x, y, xu = batch["x"], batch["y"], batch["x_t"]
        if torch.is_tensor(xu) and xu.ndim == 4:
            weak = random_affine_batch(xu, cfg.weak_shift, 0.0, (1.0, 1.0))
            strong = cutout_batch(random_affine_batch(xu, cfg.strong_shift, cfg.strong_rotate, (0.9, 1.1)),
                                  cfg.cutout)
        else:  # tables and text: the model's dropout is the only difference between the views
            weak, strong = xu, xu
        n, m = input_count(x), input_count(xu)
        logits = module(concat_inputs(x, weak, strong))
        ls, lw, lst = logits[:n], logits[n:n + m], logits[n + m:]
        ce = F.cross_entropy(ls, y, label_smoothing=cfg.label_smoothing)
        conf, pseudo = torch.softmax(lw.detach(), 1).max(1)
        mask = (conf >= cfg.threshold).float()
        unsup = (F.cross_entropy(lst, pseudo, reduction="none") * mask).mean()
        return {"loss": ce + cfg.unlabeled_weight * unsup, "ce": ce.detach(), "unlabeled_loss": unsup.detach(),
                "mask_rate": mask.mean(), "accuracy": (ls.detach().argmax(1) == y).float().mean()}
