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

from graft.data.batching import concat_inputs, input_count
from graft.engine.trainer import Batch
from graft.options import Search, option
from graft.strategies.base import register_strategy
from graft.strategies.finetune import Finetune, FinetuneConfig
from graft.strategies.pseudo_labels import PseudoLabelOptions, pseudo_label_loss, weak_strong_views


@dataclass
class SemiSupervisedConfig(PseudoLabelOptions, FinetuneConfig):
    """Options of ``semi-supervised`` (and those of ``finetune``); each field's help is in its declaration."""

    unlabeled_weight: float = option(1.0, help="Weight of the pseudo-label loss on the unlabeled stream.", ge=0,
                                     search=Search(0.1, 3.0, log=True))


@register_strategy("semi-supervised", "finetune plus FixMatch pseudo-labels on the unlabeled rest of the split")
class SemiSupervised(Finetune):
    Config = SemiSupervisedConfig
    config: SemiSupervisedConfig
    needs: ClassVar[frozenset[str]] = frozenset({"unlabeled"})

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.config
        x, y, xu = batch["x"], batch["y"], batch["x_t"]
        weak, strong = weak_strong_views(xu, cfg)
        n, m = input_count(x), input_count(xu)
        logits = module(concat_inputs(x, weak, strong))
        ls, lw, lst = logits[:n], logits[n:n + m], logits[n + m:]
        ce = F.cross_entropy(ls, y, label_smoothing=cfg.label_smoothing)
        unsup, mask = pseudo_label_loss(lst, torch.softmax(lw.detach(), 1), cfg.threshold)
        return {"loss": ce + cfg.unlabeled_weight * unsup, "ce": ce.detach(), "unlabeled_loss": unsup.detach(),
                "mask_rate": mask.mean(), "accuracy": (ls.detach().argmax(1) == y).float().mean()}
