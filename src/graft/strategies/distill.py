"""distill: a student of any architecture learns from a trained teacher of any other.

Each model reads every example through its own input spec (the teacher EfficientNet at
64 px RGB, the student LeNet at 28 px grayscale; a MiniLM teacher's tokenizer and a
student's own), built from one underlying example: the streams hold
:class:`~graft.data.paired.Views`, and augmented images are augmented identically for
both (a teacher judging another crop than the student sees teaches noise).

The transfer set is what makes distillation pay: the labeled examples AND the unlabeled
rest of the training split (``--labels-per-class K``), plus any ``--unlabeled SPEC``. The
student minimises ``(1 − α)·CE(labels) + α·KD(teacher)`` with KD over every example
(``--kd-loss``: Hinton's tempered KL, DIST's correlation match, or KL on standardised
logits), plus an optional FitNets-style feature loss through a learned projection when the
widths differ (``--feature-weight``). When neither view is augmented (text, tables,
``--augment none``) the frozen teacher's outputs are computed once and cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from graft.data.base import dataset_size
from graft.data.batching import concat_inputs, input_count
from graft.data.paired import PairedViews, TeacherOutputs, Views
from graft.engine.config import work_device
from graft.engine.param_groups import model_param_groups
from graft.engine.trainer import Batch, FitResult
from graft.errors import ConfigError
from graft.models.spec import GraftModel
from graft.options import option
from graft.strategies.base import (
    FitContext,
    Strategy,
    StrategyConfig,
    module_extras,
    register_strategy,
)

KD_LOSSES = ("kl", "dist", "kl-std")


@dataclass
class DistillConfig(StrategyConfig):
    """Options of ``distill`` (each field's help is in its declaration)."""

    kd_loss: str = option("kl", help="Logit loss: kl (Hinton's tempered KL), dist (DIST: match the teacher's "
                          "class and example rankings by correlation), kl-std (KL on standardised logits).",
                          choices=KD_LOSSES)
    temperature: float = option(4.0, help="Softening temperature T of the logit loss.", gt=0)
    kd_weight: float = option(0.9, help="α: weight of the teacher's loss; the labels' cross-entropy gets 1 − α.",
                              ge=0, le=1)
    feature_weight: float = option(0.0, help="Weight of the feature loss: the student's pooled features, "
                                   "projected to the teacher's width, match the teacher's (standardised) "
                                   "features (0: off).", ge=0)
    cache_teacher: str = option("auto", help="auto: compute the teacher's outputs once when no view is "
                                "augmented; off: run the teacher every step.", choices=("auto", "off"))


class DistillModule(nn.Module):
    """The student, the feature projection, and the frozen teacher (kept in eval mode).

    ``forward`` is the student's, so the engine validates it like any classifier.
    """

    def __init__(self, student: nn.Module, teacher: GraftModel, projection: nn.Module | None) -> None:
        super().__init__()
        self.student = student
        self.teacher = teacher
        self.extras = nn.ModuleDict({"projection": projection} if projection is not None else {})

    def forward(self, x: Any, return_features: bool = False) -> Any:
        return self.student(x, return_features=return_features)

    def train(self, mode: bool = True) -> DistillModule:
        super().train(mode)
        self.teacher.eval()  # batch statistics and dropout of the teacher never move
        return self

    @torch.no_grad()
    def teach(self, views: list[Any]) -> TeacherOutputs:
        """The teacher's logits and features on the teacher's side of each stream's batch."""
        if all(isinstance(v, TeacherOutputs) for v in views):
            return TeacherOutputs(torch.cat([v.logits for v in views]), torch.cat([v.features for v in views]))
        feats = self.teacher.forward_features(concat_inputs(*views))
        return TeacherOutputs(self.teacher.forward_head(feats).float(), feats.float())


@register_strategy("distill", "a student of any architecture learns from a trained teacher (--teacher run:DIR)")
class Distill(Strategy):
    Config = DistillConfig
    config: DistillConfig
    needs: ClassVar[frozenset[str]] = frozenset({"teacher", "unlabeled"})
    requires_unlabeled: ClassVar[bool] = False
    train_defaults: ClassVar[dict[str, Any]] = {"lr": 1e-3, "epochs": 30, "weight_decay": 0.01,
                                                "warmup_epochs": 1.0, "augment": "light"}

    def fit(self, ctx: FitContext) -> FitResult:
        result = super().fit(ctx)
        from graft.teachers import teacher_figures

        assert ctx.teacher is not None
        result.extra_metrics.update(teacher_figures(ctx.teacher, ctx.extras.get("teacher_test"),
                                                    max(ctx.train_config.batch_size, 128)))
        result.extra_metrics["teacher_cached"] = self._cached
        result.extra_metrics["transfer_unlabeled"] = dataset_size(ctx.target) if ctx.target is not None else 0
        return result

    def prepare(self, ctx: FitContext) -> None:
        from graft.streams import map_paired
        from graft.teachers import freeze, teacher_outputs

        teacher = ctx.teacher
        if teacher is None:
            raise ConfigError("internal: distill runs without a teacher")
        if not isinstance(ctx.train, PairedViews):
            raise ConfigError("internal: distill needs the teacher's view of the training data")
        freeze(teacher)
        for p in ctx.model.parameters():
            p.requires_grad_(True)
        s_dim, t_dim = ctx.model.spec.feature_dim, teacher.spec.feature_dim
        projection = nn.Linear(s_dim, t_dim) if self.config.feature_weight > 0 else None
        self._module = DistillModule(ctx.model, teacher, projection)
        self._cached = self.config.cache_teacher == "auto" and _deterministic(ctx.train)
        if self._cached:
            device = work_device(ctx.train_config.accelerator)
            batch = max(ctx.train_config.batch_size, 128)

            def cache(pair: PairedViews) -> PairedViews:
                return PairedViews(pair.student, teacher_outputs(teacher, pair.teacher, batch, device))

            ctx.train = map_paired(ctx.train, cache)  # type: ignore[assignment]
            ctx.target = map_paired(ctx.target, cache)

    def module(self, ctx: FitContext) -> nn.Module:
        return self._module

    def param_groups(self, ctx: FitContext) -> list[dict[str, Any]]:
        return model_param_groups(ctx.model, weight_decay=ctx.train_config.weight_decay,
                                  extra=dict(self._module.extras.items()))

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.config
        labeled: Views = batch["x"]
        y = batch["y"]
        streams = [labeled] + ([batch["x_t"]] if "x_t" in batch else [])
        n = input_count(labeled.student)
        logits, feats = module(concat_inputs(*[v.student for v in streams]), return_features=True)
        taught = module.teach([v.teacher for v in streams])  # type: ignore[operator]
        ce = F.cross_entropy(logits[:n], y)
        kd = _logit_loss(cfg.kd_loss, logits, taught.logits, cfg.temperature)
        loss = (1 - cfg.kd_weight) * ce + cfg.kd_weight * kd
        out = {"ce": ce.detach(), "kd": kd.detach(),
               "accuracy": (logits[:n].detach().argmax(1) == y).float().mean(),
               "agreement": (logits.detach().argmax(1) == taught.logits.argmax(1)).float().mean()}
        if cfg.feature_weight > 0:
            projected = module_extras(module)["projection"](feats)
            feat = F.mse_loss(_standardise(projected), _standardise(taught.features))
            loss = loss + cfg.feature_weight * feat
            out["feature_loss"] = feat.detach()
        out["loss"] = loss
        return out


def _logit_loss(name: str, student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    from graft.losses import dist_loss, kd_loss, standardized_kd_loss

    if name == "dist":
        return dist_loss(student, teacher, temperature)
    if name == "kl-std":
        return standardized_kd_loss(student, teacher, temperature)
    return kd_loss(student, teacher, temperature)


def _standardise(x: torch.Tensor) -> torch.Tensor:
    """Each row centred and scaled to unit variance: the feature loss does not depend on
    either model's feature scale."""
    return F.layer_norm(x, x.shape[1:])


def _deterministic(data: Any) -> bool:
    """Neither view of a paired dataset is augmented (its items never change)."""
    return (isinstance(data, PairedViews) and getattr(data.student, "augment", None) is None
            and getattr(data.teacher, "augment", None) is None)


