"""linear-probe: frozen backbone, features cached once, then a shallow head."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from graft.data.base import dataset_size
from graft.engine.config import work_device
from graft.engine.evaluate import module_device
from graft.engine.features import extract_features
from graft.engine.trainer import FitResult
from graft.models.spec import GraftModel
from graft.options import Search, option
from graft.strategies.base import FitContext, Strategy, StrategyConfig, register_strategy
from graft.strategies.head_self_training import (
    HeadSelfTrainingOptions,
    needs_with_rounds,
    self_train_head,
    self_training_summary,
)

HEADS = ("torch", "logreg", "svm", "mlp")
C_GRID = (0.01, 0.1, 1.0, 10.0)


@dataclass
class LinearProbeConfig(HeadSelfTrainingOptions, StrategyConfig):
    """Options of ``linear-probe`` (each field's help is in its declaration)."""

    head: str = option("torch", help="torch (logistic regression, L-BFGS), or scikit-learn logreg, svm (linear) "
                       "or mlp (one hidden layer).", choices=HEADS)
    C: float | None = option(
        None, help=f"Inverse regularisation strength; unset, each of {', '.join(f'{c:g}' for c in C_GRID)} is "
        "tried and the best on validation kept (1 without a validation split).",
        gt=0, example=1.0, unset="pick C on validation", search=Search(1e-3, 1e3, log=True))
    max_iter: int = option(300, help="Iterations of the head's solver.", ge=1)
    mlp_hidden: int = option(256, help="Hidden width of the mlp head (--head mlp).", ge=1)


@register_strategy("linear-probe", "frozen backbone, features cached once, then a torch or scikit-learn head")
class LinearProbe(Strategy):
    Config = LinearProbeConfig
    config: LinearProbeConfig
    # The head is fitted on cached features by its own solver, not in the engine's loop.
    ignores_engine_options = frozenset({
        "epochs", "batch_size", "lr", "optimizer", "weight_decay", "momentum", "schedule", "warmup_epochs",
        "min_lr_ratio", "gamma", "step_epochs", "inv_gamma", "inv_power", "plateau_patience", "patience",
        "start_margin_se", "steps_per_epoch", "grad_clip", "augment",
    })

    @classmethod
    def needs_for(cls, config: StrategyConfig) -> frozenset[str]:
        return needs_with_rounds(cls.needs, config)

    def fit(self, ctx: FitContext) -> FitResult:
        for p in ctx.model.backbone.parameters():
            p.requires_grad_(False)
        device = work_device(ctx.train_config.accelerator)
        t0 = time.perf_counter()
        extra: dict[str, Any] = {}
        if self.config.self_train_rounds and ctx.target_plain() is not None:
            # One row per round (its best C); the round validation picks, the last one without it.
            rows, shares = fit_probe_head_self_trained(ctx, self.config, self.config.self_train_rounds,
                                                       prior=self.config.self_train_prior)
            extra = self_training_summary(rows, shares)
            best = rows[extra["self_train_round"]]
        else:  # a probe's "epoch" is one C tried
            rows = fit_probe_head(ctx.model, ctx.labeled_plain(), ctx.val, self.config, seed=ctx.seed,
                                  device=device)
            best = max(rows, key=lambda r: r.get("val_accuracy", -1.0))
        seconds = time.perf_counter() - t0
        for r in rows:
            r["seconds"] = seconds
        return FitResult(history=rows, best_epoch=int(best["epoch"]), best_value=best.get("val_accuracy"),
                         selected_by="val" if "val_accuracy" in best else "last",
                         epochs_run=len(rows), seconds=seconds, extra_metrics=extra)


def fit_probe_head(
    model: GraftModel, train: Dataset, val: Dataset | None, config: LinearProbeConfig, seed: int = 0,
    *, device: Any = None, cache: bool = True,
) -> list[dict[str, float]]:
    """Fit ``model.head`` on the frozen backbone's features (run on ``device``, None: where the backbone
    is; the whole model ends there; cached unless ``cache`` is off, for a backbone that keeps changing);
    returns one row per C tried."""
    device = module_device(model.backbone) if device is None else torch.device(device)
    f_tr, y_tr, f_va, y_va = _features(model, train, val, device, cache)
    rows = fit_head_on_features(model, f_tr, y_tr, f_va, y_va, config, seed)
    model.to(device)  # the new head joins the backbone
    return rows


def fit_probe_head_self_trained(ctx: FitContext, config: LinearProbeConfig, rounds: int, *, prior: str,
                                cache: bool = True) -> tuple[list[dict[str, float]], list[float]]:
    """Fit ``ctx.model.head`` on the backbone's features with ``rounds`` rounds of self-training
    on the unlabeled examples (:mod:`graft.strategies.head_self_training`), on the run's device (the whole
    model ends there); one row per round, and the class shares the rounds admitted by."""
    model = ctx.model
    device = work_device(ctx.train_config.accelerator)
    f_tr, y_tr, f_va, y_va = _features(model, ctx.labeled_plain(), ctx.val, device, cache)
    f_u = extract_features(model.backbone, ctx.target_plain(), device=device, cache=cache)[0]  # type: ignore[arg-type]
    found = self_train_head(model, f_tr, y_tr, f_u, rounds,
                            fit=lambda f, y: fit_head_on_features(model, f, y, f_va, y_va, config, ctx.seed),
                            prior=prior, y_val=y_va)
    model.to(device)
    return found


def _features(model: GraftModel, train: Dataset, val: Dataset | None, device: Any, cache: bool
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Training and (when there is any) validation features and labels through the frozen backbone."""
    f_tr, y_tr = extract_features(model.backbone, train, device=device, cache=cache)
    if val is None or dataset_size(val) == 0:
        return f_tr, y_tr, None, None
    f_va, y_va = extract_features(model.backbone, val, device=device, cache=cache)
    return f_tr, y_tr, f_va, y_va


def fit_head_on_features(
    model: GraftModel, f_tr: torch.Tensor, y_tr: torch.Tensor, f_va: torch.Tensor | None,
    y_va: torch.Tensor | None, config: LinearProbeConfig, seed: int = 0,
) -> list[dict[str, float]]:
    """Fit ``model.head`` on given features (validation features pick C); one row per C tried."""
    val_features = (f_va, y_va) if f_va is not None and y_va is not None and len(f_va) > 0 else None
    has_val = val_features is not None
    # Centred, then one global scale, not per-feature standardisation: with a few labeled examples
    # per-feature statistics are noise (near-constant features get blown up), which
    # costs 10 points of accuracy with 5 labels per class on digits.
    mu = f_tr.mean(0)
    sigma = (f_tr - mu).std().clamp_min(1e-6).expand(f_tr.shape[1])
    z_tr = (f_tr - mu) / sigma
    grid = [config.C] if config.C is not None else (C_GRID if has_val else [1.0])
    n_classes = model.num_classes
    rows, best = [], None
    for i, c in enumerate(grid):
        head = _fit_head(config, z_tr, y_tr, n_classes, c, seed)
        row: dict[str, float] = {"epoch": i + 1, "C": c,
                                 "train_accuracy": _acc(head, z_tr, y_tr)}
        if val_features is not None:
            z_va = (val_features[0] - mu) / sigma
            y_va = val_features[1]
            row["val_accuracy"] = _acc(head, z_va, y_va)
            with torch.no_grad():
                row["val_loss"] = float(F.cross_entropy(head(z_va), y_va))
        rows.append(row)
        if best is None or row.get("val_accuracy", 0) > best[0].get("val_accuracy", 0):
            best = (row, head)
    assert best is not None
    model.head = _fold_standardisation(best[1], mu, sigma)
    model.head_hidden = (config.mlp_hidden,) if config.head == "mlp" else ()
    return rows


@torch.no_grad()
def _acc(head: nn.Module, z: torch.Tensor, y: torch.Tensor) -> float:
    return float((head(z).argmax(1) == y).float().mean())


def _fit_head(config: LinearProbeConfig, z: torch.Tensor, y: torch.Tensor, n_classes: int,
              c: float, seed: int) -> nn.Module:
    if config.head == "torch":
        return _torch_logreg(z, y, n_classes, c, config.max_iter)
    return _sklearn_head(config, z.numpy(), y.numpy(), n_classes, c, seed)


def _torch_logreg(z: torch.Tensor, y: torch.Tensor, n_classes: int, c: float, max_iter: int) -> nn.Linear:
    """Multinomial logistic regression, L2 penalty ``||W||² / (2 C n)`` like scikit-learn."""
    head = nn.Linear(z.shape[1], n_classes)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-6)
    penalty = 1.0 / (2.0 * c * len(y))

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(head(z), y) + penalty * head.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return head


def _sklearn_head(config: LinearProbeConfig, z: np.ndarray, y: np.ndarray, n_classes: int,
                  c: float, seed: int) -> nn.Module:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import LinearSVC

    est: Any
    if config.head == "logreg":
        est = LogisticRegression(C=c, max_iter=config.max_iter * 10)
    elif config.head == "svm":
        est = LinearSVC(C=c, max_iter=config.max_iter * 20)
    else:
        est = MLPClassifier(hidden_layer_sizes=(config.mlp_hidden,), alpha=1.0 / (c * len(y)),
                            max_iter=config.max_iter, random_state=seed)
    est.fit(z, y)
    return _to_torch(est, z.shape[1], n_classes)


def _to_torch(est: Any, dim: int, n_classes: int) -> nn.Module:
    """A torch head computing the estimator's decision function, over all classes."""
    cls = [int(c) for c in est.classes_]
    if hasattr(est, "coefs_"):  # MLPClassifier
        hidden = nn.Linear(dim, est.coefs_[0].shape[1])
        hidden.weight.data = torch.tensor(est.coefs_[0].T, dtype=torch.float32)
        hidden.bias.data = torch.tensor(est.intercepts_[0], dtype=torch.float32)
        w2, b2 = est.coefs_[1].T, est.intercepts_[1]
        out = _scatter_linear(w2, b2, cls, n_classes, hidden.out_features)
        return nn.Sequential(hidden, nn.ReLU(), out)
    return _scatter_linear(est.coef_, est.intercept_, cls, n_classes, dim)


def _scatter_linear(w: np.ndarray, b: np.ndarray, cls: list[int], n_classes: int, dim: int) -> nn.Linear:
    head = nn.Linear(dim, n_classes)
    weight = torch.zeros(n_classes, dim)
    bias = torch.full((n_classes,), -1e4)  # classes absent from training are never predicted
    w_t, b_t = torch.tensor(w, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)
    if len(cls) == 2 and w_t.shape[0] == 1:  # binary estimators give one row for class 1
        w_t, b_t = torch.cat([-w_t, w_t]) / 2, torch.cat([-b_t, b_t]) / 2
    weight[cls], bias[cls] = w_t, b_t
    head.weight.data, head.bias.data = weight, bias
    return head


def _fold_standardisation(head: nn.Module, mu: torch.Tensor, sigma: torch.Tensor) -> nn.Module:
    """Rewrite ``head((f - mu) / sigma)`` as a head on raw features."""
    first = head if isinstance(head, nn.Linear) else head[0]  # type: ignore[index]
    with torch.no_grad():
        w = first.weight / sigma
        first.bias.copy_(first.bias - w @ mu)
        first.weight.copy_(w)
    return head
