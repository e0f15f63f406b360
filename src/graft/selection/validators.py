"""Label-free validators: score a model on the target domain without target labels.

Every score here is HIGHER-IS-BETTER, so checkpoint and hyper-parameter selection
always maximises. Each works from arrays the engine already has (target logits and
features; DEV also source-validation data) and returns a Python float.

:data:`VALIDATORS` maps a name to a :class:`Validator` that takes a dict of arrays::

    VALIDATORS.get("snd")({"target_logits": logits})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from graft.errors import ConfigError, DataError
from graft.registry import Registry
from graft.selection._arrays import (
    ArrayLike,
    as_matrix,
    as_vector,
    row_entropy,
    softmax,
)

# Keeps the similarity matrix of SND at [chunk, N] instead of [N, N].
_SND_CHUNK = 1024
# Domain-classifier probabilities are clipped so one example cannot get an infinite weight.
_PROB_CLIP = 1e-6


def snd_score(
    target_features: ArrayLike | None,
    target_logits: ArrayLike,
    temperature: float = 0.05,
    *,
    use_features: bool = False,
) -> float:
    """Soft Neighbourhood Density (Saito et al. 2021); higher means denser neighbourhoods.

    Rows are L2-normalised, their cosine similarities divided by ``temperature``,
    each row's self-similarity removed, and a row-wise softmax taken; the score is
    the mean entropy of those rows. Following the paper, the rows are the
    classifier's softmax outputs (``target_logits``); ``target_features`` is used
    only with ``use_features=True`` (the paper found the softmax outputs better).

    Like the paper's score, it cannot see a collapsed model: predictions that are
    all the same give the maximum, ``log(N - 1)``. Pair it with the source accuracy
    or :func:`im_score` when collapse is possible.

    Args:
        target_features: Target features ``[N, D]``, or None.
        target_logits: Target logits ``[N, C]``, ``N >= 2``.
        temperature: Softmax temperature of the similarities (0.05 in the paper).
        use_features: Use ``target_features`` instead of the softmax outputs.
    """
    return float(snd_terms(target_features, target_logits, temperature, use_features=use_features).mean())


def snd_terms(
    target_features: ArrayLike | None,
    target_logits: ArrayLike,
    temperature: float = 0.05,
    *,
    use_features: bool = False,
) -> np.ndarray:
    """Per-row neighbourhood entropies ``[N]`` of :func:`snd_score` (their mean is the score)."""
    if not (temperature > 0 and np.isfinite(temperature)):
        raise ConfigError(
            f"The 'temperature' parameter of snd_score must be a number > 0. Got {temperature!r} instead."
        )
    logits = as_matrix(target_logits, "target_logits", min_rows=2)
    if use_features:
        rows = as_matrix(target_features, "target_features", min_rows=2)
        if rows.shape[0] != logits.shape[0]:
            raise DataError(
                f"'target_features' and 'target_logits' must have the same number of rows. "
                f"Got {rows.shape[0]} and {logits.shape[0]} instead."
            )
    else:
        rows = softmax(logits)
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    n = rows.shape[0]
    terms = np.empty(n)
    for start in range(0, n, _SND_CHUNK):
        block = rows[start : start + _SND_CHUNK] @ rows.T / temperature
        own = np.arange(block.shape[0])
        block[own, start + own] = -np.inf
        lse = logsumexp(block, axis=1, keepdims=True)
        probs = np.exp(block - lse)
        block[own, start + own] = 0.0  # its probability is 0; avoid 0 * inf
        terms[start : start + len(own)] = lse[:, 0] - (probs * block).sum(1)
    return terms


def entropy_score(target_logits: ArrayLike) -> float:
    """Negative mean prediction entropy: confident target predictions score higher."""
    return float(entropy_terms(target_logits).mean())


def entropy_terms(target_logits: ArrayLike) -> np.ndarray:
    """Per-row negative entropies ``[N]`` (their mean is :func:`entropy_score`)."""
    return -row_entropy(softmax(as_matrix(target_logits, "target_logits")))


def im_score(target_logits: ArrayLike) -> float:
    """Information maximization: entropy of the mean prediction minus mean entropy.

    The negative of :func:`graft.losses.information_maximization`; high when
    predictions are individually confident and diverse as a whole.
    """
    probs = softmax(as_matrix(target_logits, "target_logits"))
    return float(row_entropy(probs.mean(0)) - row_entropy(probs).mean())


def im_terms(target_logits: ArrayLike) -> np.ndarray:
    """Per-row ``KL(p_i || mean p)`` ``[N]``: their mean is exactly :func:`im_score` (the mutual
    information between example and predicted class), and each is row i's first-order influence
    on it, so their spread measures the score's sampling noise."""
    probs = softmax(as_matrix(target_logits, "target_logits"))
    log_mean = np.log(np.maximum(probs.mean(0), 1e-300))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.where(probs > 0, np.log(np.where(probs > 0, probs, 1.0)), 0.0)
    return (probs * (log_p - log_mean)).sum(1)


def bnm_score(target_logits: ArrayLike) -> float:
    """Batch Nuclear-norm Maximization as a validator (Cui et al. 2020): ``||P||_* / sqrt(N·min(N, C))``.

    ``P`` is the ``[N, C]`` matrix of target softmax outputs. Its nuclear norm grows with both
    the confidence of each row and the number of classes predicted (a collapsed model has rank
    one), and is at most ``sqrt(N·min(N, C))``, reached by confident predictions spread evenly
    over the classes; the score is therefore in ``(0, 1]``.
    """
    return float(bnm_terms(target_logits).mean())


def bnm_terms(target_logits: ArrayLike) -> np.ndarray:
    """Per-row terms ``[N]`` of :func:`bnm_score`, whose mean is the score.

    With ``P = U S Vᵀ``, ``||P||_* = tr(Uᵀ P V) = Σ_i ⟨(U Vᵀ)_i, p_i⟩`` exactly, and ``(U Vᵀ)_i`` is
    the gradient of the norm with respect to row i: each term is that row's influence.
    """
    probs = softmax(as_matrix(target_logits, "target_logits"))
    n, c = probs.shape
    u, _, vt = np.linalg.svd(probs, full_matrices=False)
    rows = ((u @ vt) * probs).sum(1)
    return rows * n / np.sqrt(n * min(n, c))


def class_ami_score(target_features: ArrayLike, target_logits: ArrayLike, seed: int = 0) -> float:
    """ClassAMI (Musgrave et al. 2022): adjusted mutual information between k-means clusters of
    the target features (k = the number of classes, rows L2-normalised) and the predicted classes.

    High when the classifier's decisions follow the cluster structure the features already have.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score

    logits = as_matrix(target_logits, "target_logits", min_rows=2)
    feats = as_matrix(target_features, "target_features", min_rows=2)
    if feats.shape[0] != logits.shape[0]:
        raise DataError(
            f"'target_features' and 'target_logits' must have the same number of rows. "
            f"Got {feats.shape[0]} and {logits.shape[0]} instead."
        )
    feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    k = min(logits.shape[1], feats.shape[0])
    clusters = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(feats)
    return float(adjusted_mutual_info_score(clusters, logits.argmax(1)))


def density_ratio_weights(
    source_features: ArrayLike, target_features: ArrayLike, seed: int = 0
) -> np.ndarray:
    """Importance weights ``p_target(x) / p_source(x)`` of the source rows, by a domain classifier.

    A standardised logistic regression tells source from target; its odds, corrected
    by the class ratio ``n_s / n_t`` of its training rows, estimate the density
    ratio. The data are split in two stratified halves and the classifier fit on
    each half weighs the other (cross-fitting), so every weight is held-out.

    Args:
        source_features: Source rows ``[Ns, D]``, ``Ns >= 2``.
        target_features: Target rows ``[Nt, D]``, ``Nt >= 2``.
        seed: Seed of the split.

    Returns:
        Weights ``[Ns]``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xs = as_matrix(source_features, "source_features", min_rows=2)
    xt = as_matrix(target_features, "target_features", min_rows=2)
    if xs.shape[1] != xt.shape[1]:
        raise DataError(
            f"Source and target features must have the same width. Got {xs.shape[1]} and {xt.shape[1]} instead."
        )
    x = np.vstack([xs, xt])
    is_target = np.r_[np.zeros(len(xs), dtype=int), np.ones(len(xt), dtype=int)]
    weights = np.empty(len(xs))
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    for fit_rows, held_rows in folds.split(x, is_target):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        clf.fit(x[fit_rows], is_target[fit_rows])
        n_t = is_target[fit_rows].sum()
        n_s = len(fit_rows) - n_t
        held_source = held_rows[is_target[held_rows] == 0]
        p = np.clip(clf.predict_proba(x[held_source])[:, 1], _PROB_CLIP, 1 - _PROB_CLIP)
        weights[held_source] = p / (1 - p) * (n_s / n_t)
    return weights


def dev_risk(losses: np.ndarray, weights: np.ndarray) -> float:
    """DEV's control-variate estimate of the target risk from weighted source losses.

    ``L = w * loss``; ``eta = -Cov(L, w) / Var(w)``; risk ``= mean(L) + eta * mean(w) - eta``.
    The weights' known mean of 1 is what the control variate exploits.
    """
    return float(dev_risk_terms(losses, weights).mean())


def dev_risk_terms(losses: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-row terms ``w_i·loss_i + eta·(w_i − 1)`` of :func:`dev_risk` (their mean is the risk)."""
    weighted = weights * losses
    var_w = weights.var(ddof=1) if len(weights) > 1 else 0.0
    eta = 0.0
    if var_w > 0:
        eta = -float(np.cov(weighted, weights, ddof=1)[0, 1]) / float(var_w)
    return weighted + eta * (weights - 1.0)


def dev_score(
    source_val_features: ArrayLike,
    source_val_losses: ArrayLike,
    target_features: ArrayLike,
    seed: int = 0,
) -> float:
    """Deep Embedded Validation (You et al. 2019): minus the estimated target risk.

    The per-example source-validation losses are importance-weighted towards the
    target (:func:`density_ratio_weights`) and combined with a control variate
    (:func:`dev_risk`), an estimate of the target loss without target labels.

    Args:
        source_val_features: Features of labeled source-validation rows ``[Ns, D]``.
        source_val_losses: The model's loss on each of those rows ``[Ns]``.
        target_features: Features of unlabeled target rows ``[Nt, D]``.
        seed: Seed of the domain classifier's split.
    """
    return float(dev_terms(source_val_features, source_val_losses, target_features, seed).mean())


def dev_terms(
    source_val_features: ArrayLike,
    source_val_losses: ArrayLike,
    target_features: ArrayLike,
    seed: int = 0,
) -> np.ndarray:
    """Per-source-row terms ``[Ns]`` of :func:`dev_score` (their mean is the score)."""
    xs = as_matrix(source_val_features, "source_val_features", min_rows=2)
    losses = as_vector(source_val_losses, "source_val_losses", len(xs))
    weights = density_ratio_weights(xs, target_features, seed=seed)
    return -dev_risk_terms(losses, weights)


def cross_entropy_per_example(logits: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """Per-row cross-entropy ``[N]`` of logits ``[N, C]`` against integer labels ``[N]``."""
    z = as_matrix(logits, "source_val_logits")
    y = as_vector(labels, "source_val_labels", len(z))
    if not (np.all(y == np.round(y)) and y.min() >= 0 and y.max() < z.shape[1]):
        raise DataError(
            f"'source_val_labels' must be integer class indices in [0, {z.shape[1] - 1}]. "
            f"Got values in [{y.min()}, {y.max()}] instead."
        )
    return logsumexp(z, axis=1) - z[np.arange(len(z)), y.astype(int)]


# --------------------------------------------------------------------- registry

Arrays = Mapping[str, "ArrayLike | None"]


@dataclass(frozen=True)
class Validator:
    """A registered label-free validator.

    Attributes:
        name: Registry name.
        needs_source_val: Whether it needs labeled source-validation arrays.
        requires: Keys that must be present in the dict of arrays.
        score: ``dict of arrays -> float``, higher is better.
        terms: ``dict of arrays -> [N]`` per-example terms whose mean is the score (each row's
            first-order influence on it), or None where the score has none (ClassAMI). Paired
            over the same rows, they give the standard error of a difference between two
            checkpoints' scores (the start-margin rule of :mod:`graft.engine.selection`).
    """

    name: str
    needs_source_val: bool
    requires: tuple[str, ...]
    score: Callable[[Arrays], float]
    higher_is_better: bool = True
    terms: Callable[[Arrays], np.ndarray] | None = None

    def _check(self, arrays: Arrays) -> None:
        missing = [k for k in self.requires if arrays.get(k) is None]
        if missing:
            raise ConfigError(
                f"The label-free validator '{self.name}' needs {', '.join(missing)}. "
                f"Got only {', '.join(sorted(k for k, v in arrays.items() if v is not None)) or 'nothing'}."
                + (" Pass --source so source-validation data exist, or pick snd, entropy or im."
                   if self.needs_source_val else "")
            )

    def __call__(self, arrays: Arrays) -> float:
        """Score from ``target_logits``, ``target_features`` and, for DEV,
        ``source_val_logits``, ``source_val_features``, ``source_val_labels``."""
        self._check(arrays)
        return float(self.score(arrays))

    def score_and_terms(self, arrays: Arrays) -> tuple[float, np.ndarray | None]:
        """The score and its per-example terms (None where the validator has none); one pass."""
        self._check(arrays)
        if self.terms is None:
            return float(self.score(arrays)), None
        terms = np.asarray(self.terms(arrays), dtype=np.float64)
        return float(terms.mean()), terms


VALIDATORS: Registry[Validator] = Registry("label-free validator")


def _register(name: str, help: str, requires: tuple[str, ...], score: Callable[[Arrays], float],
              terms: Callable[[Arrays], np.ndarray] | None = None) -> None:
    needs_source = any(k.startswith("source_val") for k in requires)
    VALIDATORS.register(name, help)(Validator(name, needs_source, requires, score, terms=terms))


def _dev_terms(a: Arrays) -> np.ndarray:
    return dev_terms(
        a["source_val_features"],  # type: ignore[arg-type]
        cross_entropy_per_example(a["source_val_logits"], a["source_val_labels"]),  # type: ignore[arg-type]
        a["target_features"],  # type: ignore[arg-type]
    )


_register(
    "snd",
    "Soft Neighbourhood Density of the target softmax outputs (Saito et al. 2021).",
    ("target_logits",),
    lambda a: snd_score(a.get("target_features"), a["target_logits"]),  # type: ignore[arg-type]
    lambda a: snd_terms(a.get("target_features"), a["target_logits"]),  # type: ignore[arg-type]
)
_register(
    "entropy",
    "Negative mean entropy of the target predictions.",
    ("target_logits",),
    lambda a: entropy_score(a["target_logits"]),  # type: ignore[arg-type]
    lambda a: entropy_terms(a["target_logits"]),  # type: ignore[arg-type]
)
_register(
    "im",
    "Information maximization: diversity minus mean entropy of target predictions.",
    ("target_logits",),
    lambda a: im_score(a["target_logits"]),  # type: ignore[arg-type]
    lambda a: im_terms(a["target_logits"]),  # type: ignore[arg-type]
)
_register(
    "bnm",
    "Batch nuclear norm of the target softmax outputs, normalised to (0, 1] (Cui et al. 2020).",
    ("target_logits",),
    lambda a: bnm_score(a["target_logits"]),  # type: ignore[arg-type]
    lambda a: bnm_terms(a["target_logits"]),  # type: ignore[arg-type]
)
_register(
    "classami",
    "Adjusted mutual information of k-means clusters of target features and predictions (Musgrave et al. 2022).",
    ("target_features", "target_logits"),
    lambda a: class_ami_score(a["target_features"], a["target_logits"]),  # type: ignore[arg-type]
)
_register(
    "dev",
    "Deep Embedded Validation: importance-weighted source-validation loss (You et al. 2019).",
    ("target_features", "source_val_features", "source_val_logits", "source_val_labels"),
    lambda a: float(_dev_terms(a).mean()),
    _dev_terms,
)
