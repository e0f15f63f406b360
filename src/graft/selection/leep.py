"""Scores that read the target labels through a source classifier: LEEP, NCE, and NLEEP,
whose "source classifier" is a Gaussian mixture fitted on the features themselves.

* LEEP (Nguyen et al., ICML 2020): the mean log-likelihood of the "expected empirical
  predictor" ``p(y | x) = sum_z p(y | z) theta(x)_z``, where ``theta(x)`` are the source
  head's probabilities and ``p(y | z)`` the empirical conditional of target label given
  source label.
* NCE (Tran et al., ICCV 2019): the negative conditional entropy ``-H(Y | Z)`` of the
  target labels given the source head's hard predictions.
* NLEEP (Li et al., "Ranking Neural Checkpoints", CVPR 2021): LEEP with ``theta(x)`` the
  posterior of a Gaussian mixture fitted to PCA-reduced features, so it needs no source head.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graft.errors import ConfigError
from graft.selection._arrays import ArrayLike, as_matrix
from graft.selection._labels import class_labels, one_hot, source_probabilities

_TINY = 1e-300  # log(0) guard: a zero likelihood is possible only for an impossible label


def leep(source_probs: ArrayLike, labels: Any) -> float:
    """LEEP of the source head's probabilities ``[N, Z]`` for target ``labels``; <= 0, higher is better."""
    theta = as_matrix(source_probs, "source_probs")
    y, counts = class_labels(labels, theta.shape[0], "leep")
    theta = source_probabilities(theta, theta.shape[0], "leep")
    return _leep(theta, y, len(counts))


def _leep(theta: np.ndarray, y: np.ndarray, num_classes: int) -> float:
    joint = one_hot(y, num_classes).T @ theta / len(y)  # [C, Z]: empirical P(y, z)
    marginal = joint.sum(0, keepdims=True)  # [1, Z]: P(z)
    conditional = np.divide(joint, marginal, out=np.zeros_like(joint), where=marginal > 0)  # P(y | z)
    eep = (theta * conditional[y]).sum(1)  # [N]: sum_z P(y_i | z) theta(x_i)_z
    return float(np.log(np.clip(eep, _TINY, 1.0)).mean())  # a probability: rounding may not push it past 1


def nce(source_probs: ArrayLike, labels: Any) -> float:
    """NCE: ``-H(Y | Z)`` with ``Z`` the source head's most likely class; <= 0, higher is better."""
    theta = as_matrix(source_probs, "source_probs")
    y, counts = class_labels(labels, theta.shape[0], "nce")
    theta = source_probabilities(theta, theta.shape[0], "nce")
    z = theta.argmax(1)
    n_z = theta.shape[1]
    joint = np.bincount(y * n_z + z, minlength=len(counts) * n_z).reshape(len(counts), n_z) / len(y)
    marginal = joint.sum(0, keepdims=True)
    seen = joint > 0
    conditional = np.divide(joint, marginal, out=np.ones_like(joint), where=seen)
    return float((joint[seen] * np.log(conditional[seen])).sum())


def nleep(
    features: ArrayLike,
    labels: Any,
    *,
    components_per_class: int = 5,
    variance: float = 0.8,
    max_dim: int = 64,
    covariance: str = "diag",
    seed: int = 0,
) -> float:
    """NLEEP: LEEP over the posteriors of a Gaussian mixture on PCA-reduced features.

    Args:
        features: ``[N, D]`` frozen features.
        labels: ``[N]`` class labels.
        components_per_class: Mixture components per target class (the paper's 5).
        variance: Share of the feature variance the PCA keeps (the paper's 0.8).
        max_dim: At most this many PCA dimensions; with few examples a mixture in more
            dimensions has more parameters than data.
        covariance: scikit-learn's ``covariance_type``; ``diag`` by default, because a
            few examples per component cannot estimate full covariance matrices.
        seed: Seeds the mixture's initialisation.
    """
    from sklearn.mixture import GaussianMixture

    if not 0 < variance <= 1:
        raise ConfigError(f"The 'variance' parameter of nleep must be in (0, 1]. Got {variance!r} instead.")
    if components_per_class < 1:
        raise ConfigError(f"The 'components_per_class' parameter of nleep must be >= 1. Got {components_per_class!r}.")
    f = as_matrix(features, "features", min_rows=2)
    y, counts = class_labels(labels, f.shape[0], "nleep")
    reduced = pca_reduce(f, variance=variance, max_dim=max_dim)
    # No more components than half the examples: each must be fitted on something.
    k = int(max(1, min(components_per_class * len(counts), f.shape[0] // 2)))
    gmm = GaussianMixture(n_components=k, covariance_type=covariance, reg_covar=1e-4, random_state=seed,
                          max_iter=200)
    theta = gmm.fit(reduced).predict_proba(reduced)
    return _leep(theta, y, len(counts))


def pca_reduce(f: np.ndarray, *, variance: float = 1.0, max_dim: int | None = None) -> np.ndarray:
    """Centred features projected on their leading principal directions: as many as keep
    ``variance`` of the total, at most ``max_dim`` and at most ``N - 1`` (one SVD)."""
    centred = f - f.mean(0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    energy = s**2
    total = energy.sum()
    if total <= 0:
        return np.zeros((f.shape[0], 1))
    keep = int(np.searchsorted(np.cumsum(energy) / total, variance - 1e-12) + 1)
    keep = min(keep, max_dim or keep, max(1, f.shape[0] - 1), len(s))
    return u[:, :keep] * s[:keep]
