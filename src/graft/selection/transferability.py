"""The registry of transferability scores that ``graft rank`` computes.

Every score is higher-is-better and takes frozen features ``[N, D]``, class labels
``[N]`` and, for the scores that read labels through a source classifier (LEEP, NCE),
the source head's probabilities ``[N, Z]``. :func:`compute_scores` runs several on the
same arrays and turns "this model has no source head" into a note instead of an error::

    SCORES.get("logme")(features, labels)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graft.errors import ConfigError
from graft.registry import Registry
from graft.selection._arrays import ArrayLike
from graft.selection.gbc import gbc
from graft.selection.hscore import hscore, shrinkage_hscore
from graft.selection.leep import leep, nce, nleep
from graft.selection.logme import logme
from graft.selection.probes import knn_probe, linear_probe
from graft.selection.sfda import sfda
from graft.selection.transrate import transrate

NO_SOURCE_HEAD = "n/a (no source head)"


@dataclass(frozen=True)
class TransferScore:
    """A registered transferability score.

    Attributes:
        name: Registry name (``--scores``).
        compute: ``(features, labels, source_probs, seed) -> float``, higher is better.
        needs_source: Reads the source head's probabilities (a model without one gets a note).
        min_per_class: Fewest examples of every class it needs.
        help: One line for listings.
    """

    name: str
    compute: Callable[[np.ndarray, np.ndarray, np.ndarray | None, int], float]
    needs_source: bool = False
    min_per_class: int = 1
    help: str = ""

    def __call__(self, features: ArrayLike, labels: Any, source_probs: ArrayLike | None = None,
                 seed: int = 0) -> float:
        return float(self.compute(features, labels, source_probs, seed))  # type: ignore[arg-type]


SCORES: Registry[TransferScore] = Registry("transferability score")
#: What ``graft rank`` computes without ``--scores``: every registered score.
DEFAULT_SCORES: tuple[str, ...] = ()


def _register(score: TransferScore) -> None:
    global DEFAULT_SCORES
    SCORES.register(score.name, score.help)(score)
    DEFAULT_SCORES = (*DEFAULT_SCORES, score.name)


_register(TransferScore(
    "logme", lambda f, y, p, s: logme(f, y),
    help="LogME: maximised evidence of a Bayesian linear head (You et al. 2021)"))
_register(TransferScore(
    "leep", lambda f, y, p, s: leep(p, y), needs_source=True,  # type: ignore[arg-type]
    help="LEEP: log-likelihood of the source head's classes mapped to the target's (Nguyen et al. 2020)"))
_register(TransferScore(
    "nce", lambda f, y, p, s: nce(p, y), needs_source=True,  # type: ignore[arg-type]
    help="NCE: -H(target label | source head's class) (Tran et al. 2019)"))
_register(TransferScore(
    "nleep", lambda f, y, p, s: nleep(f, y, seed=s),
    help="NLEEP: LEEP over a Gaussian mixture on PCA features (Li et al. 2021)"))
_register(TransferScore(
    "hscore", lambda f, y, p, s: hscore(f, y), help="H-score: tr(cov(f)^+ cov(E[f|y])) (Bao et al. 2019)"))
_register(TransferScore(
    "shrinkage-hscore", lambda f, y, p, s: shrinkage_hscore(f, y),
    help="H-score with Ledoit-Wolf shrinkage, stable when D >> N (Ibrahim et al. 2023)"))
_register(TransferScore(
    "gbc", lambda f, y, p, s: gbc(f, y), min_per_class=2,
    help="GBC: minus the Bhattacharyya overlap of per-class Gaussians (Pándy et al. 2022)"))
_register(TransferScore(
    "transrate", lambda f, y, p, s: transrate(f, y),
    help="TransRate: coding-rate mutual information of features and labels (Huang et al. 2022)"))
_register(TransferScore(
    "sfda", lambda f, y, p, s: sfda(f, y),
    help="SFDA: regularised Fisher discriminant posteriors after a self-challenge (Shao et al. 2022)"))
_register(TransferScore(
    "knn", lambda f, y, p, s: knn_probe(f, y), min_per_class=2,
    help="Leave-one-out accuracy of a cosine k-nearest-neighbour vote"))
_register(TransferScore(
    "linear", lambda f, y, p, s: linear_probe(f, y, seed=s), min_per_class=2,
    help="Cross-validated accuracy of a logistic regression on standardised features"))


def parse_scores(names: str | Sequence[str] | None) -> list[str]:
    """``"logme,leep"`` or a list → checked, de-duplicated score names (all by default).

    Raises:
        SpecError: An unknown name (with the closest registered one).
        ConfigError: An empty list.
    """
    if names is None:
        return list(DEFAULT_SCORES)
    items = names.split(",") if isinstance(names, str) else list(names)
    picked: list[str] = []
    for item in (str(i).strip().lower() for i in items):
        if item and item not in picked:
            SCORES.get(item)
            picked.append(item)
    if not picked:
        raise ConfigError(f"--scores names no score. Got {names!r}. Allowed: {', '.join(SCORES)} "
                          "(comma-separated). Fix: pass e.g. --scores logme,leep, or leave it out for all.")
    return picked


def compute_scores(
    names: Sequence[str], features: ArrayLike, labels: Any, source_probs: ArrayLike | None = None, *, seed: int = 0
) -> dict[str, float | str]:
    """Each named score of the same arrays; a score that needs a source head gets
    :data:`NO_SOURCE_HEAD` when ``source_probs`` is None."""
    out: dict[str, float | str] = {}
    for name in names:
        score = SCORES.get(name)
        if score.needs_source and source_probs is None:
            out[name] = NO_SOURCE_HEAD
        else:
            out[name] = score(features, labels, source_probs, seed)
    return out


def check_class_counts(names: Sequence[str], counts: Any, classes: Sequence[str] | None = None) -> None:
    """Refuse, before any model runs, scores that need more examples of a class than the data has.

    Raises:
        DataError: Fewer than 2 classes, or a class below a score's ``min_per_class``.
    """
    from graft.errors import DataError

    counts = np.asarray(counts)
    present = counts[counts > 0]
    if len(present) < 2:
        raise DataError(f"Ranking needs labeled examples of at least 2 classes. Got {len(present)} class(es) in the "
                        "training split. Fix: rank on data with two or more classes.")
    for name in names:
        need = SCORES.get(name).min_per_class
        if present.min() < need:
            labels = classes if classes is not None else [str(i) for i in range(len(counts))]
            thin = [str(labels[int(i)]) for i in np.flatnonzero((counts > 0) & (counts < need))]
            raise DataError(
                f"Score '{name}' needs at least {need} examples of every class. Got {int(present.min())} of class(es) "
                f"{', '.join(thin[:5])} in the training split. Allowed: --labels-per-class {need} or more. Fix: raise "
                f"--labels-per-class, or leave {name} out of --scores."
            )
