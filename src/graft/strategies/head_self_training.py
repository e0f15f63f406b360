"""Self-training of a probe head on cached features of unlabeled examples.

A few-label user nearly always has unlabeled examples of the same task (with
``--labels-per-class K``, the rest of the training split; ``--unlabeled SPEC`` adds more).
Where the head is a probe fitted on frozen features (``linear-probe``, and ``contrastive``
after its backbone is tuned), those examples cost one feature pass: each round predicts
them with the current head, adds the most confident pseudo-labels of every class to the
labeled examples, and refits. A round admits a growing share, ``r / R`` of an even split of
the unlabeled examples over the classes, so the first rounds take only what the head is
surest of, and no class can take over the pseudo-labels (the classic self-training of
Yarowsky 1995 and its class-balanced form, e.g. Zou et al. 2018). Validation picks the
round; the head fitted on the labeled examples alone is round 0 and wins ties.

The split over the classes is even only where the classes are: ``--labels-per-class K`` draws
an even K, which a skewed task does not have. By default the rounds admit pseudo-labels in the
class shares of the labeled data that was not drawn per class (the validation split, carved
before the K are drawn; without one, the training labels). ``em`` estimates the shares from
the unlabeled examples instead, by the EM of Saerens et al. (2002) on the labeled-only head's
probabilities: it needs no labels beyond the K but trusts the head's calibration, which a head
fitted on a few labels may not have. (Correcting each round's probabilities to the shares as
well, as that paper does for a classifier's outputs, was measured and dropped: it cost B3
(BBC news, K=2) 0.02 and gained the skewed drug reviews no macro-F1.)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from graft.errors import ConfigError
from graft.models.spec import GraftModel
from graft.options import option
from graft.strategies.base import StrategyConfig
from graft.strategies.pseudo_labels import class_shares
from graft.streams import UNLABELED_FEATURES

PRIORS = ("labeled", "em", "even")


@dataclass
class HeadSelfTrainingOptions(StrategyConfig):
    """The option of the strategies whose head is a probe on cached features."""

    # B3 (MiniLM → BBC news, K=10 labels per class, seed 0): the probe 0.880, with 5 rounds over
    # the unlabeled rest 0.960 (validation 0.92 → 0.98 across the rounds). More, smaller rounds let
    # validation stop between 80 % and 100 % of the rest admitted, where it stops on BBC news: 20 rounds
    # give 0.955 / 0.954 / 0.958 at K=2 / 5 / 10 over seeds 0-2 against 0.949 / 0.943 / 0.957 with 5
    # (each round costs one refit of the head, about 0.1 s on 384 features), so `--strategy auto` runs 20.
    self_train_rounds: int = option(
        0, help="Rounds of self-training of the probe head on the unlabeled examples (the rest of the training "
        "split with --labels-per-class, and --unlabeled): each round refits on the labeled examples plus the "
        "most confident pseudo-labels of every class, a growing share up to all of them in the last; "
        "validation picks the round (0: labeled examples only).", ge=0, le=50)
    self_train_prior: str = option(
        "labeled", help="The class shares the rounds' pseudo-labels follow. labeled: the validation "
        "split's (carved before --labels-per-class draws), else "
        "the training labels'; em: estimated on the unlabeled examples by EM from the labeled-only head "
        "(Saerens et al. 2002); even: the same number per class.", choices=PRIORS)

    def validate(self, owner: str | None = None) -> None:
        super().validate(owner)
        if self.self_train_prior != "labeled" and not self.self_train_rounds:
            raise ConfigError(
                f"--self-train-prior {self.self_train_prior} sets the class shares of the self-training rounds, "
                "and there are none: got --self-train-rounds 0. Allowed: --self-train-prior with "
                "--self-train-rounds 1 or more. Fix: add --self-train-rounds 5, or drop --self-train-prior.")


def needs_with_rounds(needs: frozenset[str], config: StrategyConfig) -> frozenset[str]:
    """``needs`` plus the unlabeled examples' features when ``config`` asks for self-training rounds
    (read once after training: the training loop, and so its epoch length, is unchanged)."""
    return needs | {UNLABELED_FEATURES} if getattr(config, "self_train_rounds", 0) else needs


def self_train_head(
    model: GraftModel, f_tr: torch.Tensor, y_tr: torch.Tensor, f_u: torch.Tensor, rounds: int,
    fit: Callable[[torch.Tensor, torch.Tensor], list[dict[str, float]]], prior: str = "labeled",
    y_val: torch.Tensor | None = None,
) -> tuple[list[dict[str, float]], list[float]]:
    """Refit ``model.head`` over ``rounds`` rounds of pseudo-labels on the unlabeled features ``f_u``.

    ``fit(f, y)`` fits ``model.head`` on features ``f`` and labels ``y`` (validation, if any, chooses
    its C inside) and returns its rows; the head it leaves predicts raw features. ``prior``: one of
    :data:`PRIORS`; ``y_val``: the validation labels, if any (``labeled`` reads its shares there).
    Returns one row per round (round 0: the labeled examples alone), leaving the head of
    :func:`picked_round`, and the class shares the rounds admitted by.
    """
    n_classes = model.num_classes
    rows: list[dict[str, float]] = []
    heads: list[nn.Module] = []
    shares = torch.full((n_classes,), 1.0 / n_classes, dtype=torch.float64)
    if prior == "labeled":
        shares = class_shares(y_val if y_val is not None and bool((y_val >= 0).any()) else y_tr, n_classes)
    for r in range(rounds + 1):
        if r == 0:
            f, y, n_pseudo = f_tr, y_tr, 0
        else:
            probs = _probabilities(model, f_u)
            if r == 1 and prior == "em":
                shares = estimate_prior(probs, class_shares(y_tr, n_classes))
            per_class = [math.ceil(r / rounds * len(f_u) * float(s)) for s in shares]
            keep, labels = _confident(probs, per_class)
            f, y, n_pseudo = torch.cat([f_tr, f_u[keep]]), torch.cat([y_tr, labels]), len(keep)
        top = max(fit(f, y), key=lambda row: row.get("val_accuracy", -1.0))
        rows.append({"epoch": r, "round": r, "pseudo_labels": n_pseudo,
                     **{k: top[k] for k in ("C", "train_accuracy", "val_accuracy", "val_loss") if k in top}})
        heads.append(copy.deepcopy(model.head))
    model.head = heads[picked_round(rows)]
    return rows, shares.tolist()


def estimate_prior(probs: torch.Tensor, fitted_on: torch.Tensor, iters: int = 200,
                   tol: float = 1e-8) -> torch.Tensor:
    """The class shares of the examples behind ``probs`` (N × C posteriors of a model fitted on
    class shares ``fitted_on``), by the EM of Saerens, Latinne and Decaestecker (2002): reweight the
    posteriors by the ratio of the current estimate to the training shares, average, repeat."""
    probs, fitted_on = probs.double(), fitted_on.double()
    shares = fitted_on.clone()
    for _ in range(iters):
        w = probs * (shares / fitted_on).clamp_min(1e-12)
        new = (w / w.sum(1, keepdim=True).clamp_min(1e-300)).mean(0)
        done = bool((new - shares).abs().max() < tol)
        shares = new
        if done:
            break
    return shares


def picked_round(rows: list[dict[str, float]]) -> int:
    """The round validation picks (the earliest of equals); the last round without validation."""
    if "val_accuracy" not in rows[0]:
        return len(rows) - 1
    return max(range(len(rows)), key=lambda r: (rows[r]["val_accuracy"], -r))


@torch.no_grad()
def _probabilities(model: GraftModel, f_u: torch.Tensor) -> torch.Tensor:
    param = next(model.head.parameters(), None)
    logits = model.head(f_u.to(param.dtype) if param is not None else f_u)
    return torch.softmax(logits.double(), 1)


def _confident(probs: torch.Tensor, per_class: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The indices of at most ``per_class[c]`` most confident predictions of each class c, and their labels."""
    confidence, labels = probs.max(1)
    keep = []
    for c, cap in enumerate(per_class):
        idx = torch.nonzero(labels == c).flatten()
        keep.append(idx[confidence[idx].argsort(descending=True)][:cap])
    chosen = torch.cat(keep)
    return chosen, labels[chosen]


def self_training_summary(rows: list[dict[str, float]], shares: list[float]) -> dict[str, Any]:
    """What metrics.json says of the rounds: the one picked, its pseudo-labels, validation per round,
    the class shares they admitted by."""
    picked = rows[picked_round(rows)]
    return {"self_train_round": int(picked["round"]), "self_train_pseudo_labels": int(picked["pseudo_labels"]),
            "self_train_val_accuracy": [row.get("val_accuracy") for row in rows],
            "self_train_class_shares": [round(s, 4) for s in shares]}
