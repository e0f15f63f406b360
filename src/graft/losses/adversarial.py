"""Domain-adversarial losses: the DANN discriminator and loss, and CDAN's conditioning.

Convention: source is domain label 1, target is domain label 0. Gradient reversal
is not applied here; feed the discriminator ``grad_reverse(features, coeff)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graft.errors import ConfigError, DataError
from graft.losses._checks import check_matrix
from graft.losses.entropy import entropy


class DomainDiscriminator(nn.Module):
    """MLP that scores "is this a source example": ``(Linear-BN-ReLU-Dropout) x 2 -> Linear``.

    Args:
        in_features: Width of its input (features, or the CDAN map).
        hidden: Width of the two hidden layers.
        dropout: Dropout probability after each hidden layer.

    Shape:
        ``[N, in_features] -> [N]`` logits.
    """

    def __init__(self, in_features: int, hidden: int = 1024, dropout: float = 0.5) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("hidden", hidden)):
            if int(value) != value or value < 1:
                raise ConfigError(
                    f"The '{name}' parameter of DomainDiscriminator must be an integer >= 1. Got {value!r} instead."
                )
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(
                f"The 'dropout' parameter of DomainDiscriminator must be in [0, 1). Got {dropout!r} instead."
            )
        self.in_features = int(in_features)
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


def _bce(logits: Tensor, label: float, weights: Tensor | None, name: str) -> Tensor:
    logits = logits.reshape(-1)
    if logits.numel() == 0:
        raise DataError(f"'{name}' is empty. Both domains need at least one example per step.")
    if weights is not None:
        weights = weights.reshape(-1)
        if weights.shape != logits.shape:
            raise DataError(
                f"The weights of '{name}' must have one value per example ({logits.numel()}). "
                f"Got shape {tuple(weights.shape)} instead."
            )
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label), weight=weights)


def domain_adversarial_loss(
    disc_logits_source: Tensor,
    disc_logits_target: Tensor,
    weights_source: Tensor | None = None,
    weights_target: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy of the discriminator, source labelled 1 and target 0.

    Each domain's loss is averaged over its examples and the two are averaged, so
    both domains count equally whatever their batch sizes. With weights, a domain's
    term is ``mean(w * bce)`` (as :func:`torch.nn.functional.binary_cross_entropy_with_logits`);
    weights normalised to mean 1 (see :func:`entropy_weights`) keep the scale.

    Args:
        disc_logits_source: Discriminator logits on source examples, ``[Ns]`` or ``[Ns, 1]``.
        disc_logits_target: Discriminator logits on target examples, ``[Nt]`` or ``[Nt, 1]``.
        weights_source: Optional per-example weights of the source term.
        weights_target: Optional per-example weights of the target term.

    Example:
        >>> domain_adversarial_loss(torch.zeros(4), torch.zeros(2))
        tensor(0.6931)
    """
    source = _bce(disc_logits_source, 1.0, weights_source, "disc_logits_source")
    target = _bce(disc_logits_target, 0.0, weights_target, "disc_logits_target")
    return 0.5 * (source + target)


@torch.no_grad()
def domain_accuracy(disc_logits_source: Tensor, disc_logits_target: Tensor) -> Tensor:
    """Balanced accuracy of the discriminator: mean of the per-domain accuracies.

    A source example is right when its logit is > 0, a target one when it is < 0.
    Near 0.5 means the features no longer tell the domains apart.
    """
    source = (disc_logits_source.reshape(-1) > 0).float().mean()
    target = (disc_logits_target.reshape(-1) < 0).float().mean()
    return 0.5 * (source + target)


def _check_cdan_inputs(features: Tensor, probs: Tensor) -> None:
    check_matrix(features, "features")
    check_matrix(probs, "probs")
    if features.shape[0] != probs.shape[0]:
        raise DataError(
            f"'features' and 'probs' must have the same number of rows. "
            f"Got {features.shape[0]} and {probs.shape[0]} instead."
        )


def multilinear_map(features: Tensor, probs: Tensor) -> Tensor:
    """CDAN's multilinear map: the flattened outer product ``probs ⊗ features``, ``[N, C*D]``.

    Column ``c * D + d`` holds ``probs[:, c] * features[:, d]``.
    """
    _check_cdan_inputs(features, probs)
    return (probs.unsqueeze(2) * features.unsqueeze(1)).flatten(1)


def randomized_multilinear_map(
    features: Tensor, probs: Tensor, feature_matrix: Tensor, probs_matrix: Tensor
) -> Tensor:
    """Randomized multilinear map ``(f R_f) ⊙ (g R_g) / sqrt(r)``, ``[N, r]``.

    Its inner products approximate those of :func:`multilinear_map` when the
    matrices hold standard Gaussian entries.

    Args:
        features: Features ``f`` ``[N, D]``.
        probs: Class probabilities ``g`` ``[N, C]``.
        feature_matrix: ``R_f`` ``[D, r]``.
        probs_matrix: ``R_g`` ``[C, r]``.
    """
    _check_cdan_inputs(features, probs)
    r = feature_matrix.shape[1]
    return (features @ feature_matrix) * (probs @ probs_matrix) / math.sqrt(r)


def random_projections(
    feature_dim: int, num_classes: int, random_dim: int, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """The fixed Gaussian pair ``(R_f [D, r], R_g [C, r])`` drawn from ``seed`` (CPU, float32)."""
    for name, value in (("feature_dim", feature_dim), ("num_classes", num_classes), ("random_dim", random_dim)):
        if int(value) != value or value < 1:
            raise ConfigError(
                f"The '{name}' parameter of the randomized CDAN map must be an integer >= 1. Got {value!r} instead."
            )
    gen = torch.Generator().manual_seed(int(seed))
    rf = torch.randn(int(feature_dim), int(random_dim), generator=gen)
    rg = torch.randn(int(num_classes), int(random_dim), generator=gen)
    return rf, rg


class RandomizedMultilinear(nn.Module):
    """Holds CDAN's fixed random projections as buffers and applies the randomized map.

    The matrices are buffers: they move with ``.to(device)``, are saved in the
    state dict and never receive gradients.

    Args:
        feature_dim: Feature width ``D``.
        num_classes: Number of classes ``C``.
        random_dim: Output width ``r`` (1024 in CDAN).
        seed: Seed of the Gaussian draw.
    """

    feature_matrix: Tensor
    probs_matrix: Tensor

    def __init__(self, feature_dim: int, num_classes: int, random_dim: int = 1024, seed: int = 0) -> None:
        super().__init__()
        rf, rg = random_projections(feature_dim, num_classes, random_dim, seed)
        self.register_buffer("feature_matrix", rf)
        self.register_buffer("probs_matrix", rg)

    def forward(self, features: Tensor, probs: Tensor) -> Tensor:
        return randomized_multilinear_map(
            features, probs, self.feature_matrix.to(features.dtype), self.probs_matrix.to(probs.dtype)
        )

    def extra_repr(self) -> str:
        d, r = self.feature_matrix.shape
        return f"feature_dim={d}, num_classes={self.probs_matrix.shape[0]}, random_dim={r}"


def cdan_features(
    features: Tensor,
    probs: Tensor,
    random_dim: int | None = None,
    *,
    seed: int = 0,
    detach_probs: bool = True,
) -> Tensor:
    """The discriminator's input in CDAN (Long et al. 2018): features conditioned on predictions.

    Without ``random_dim`` this is the multilinear map ``[N, C*D]``; with it, the
    randomized map ``[N, random_dim]`` with matrices drawn from ``seed`` (the same
    on every call). In a training loop prefer a :class:`RandomizedMultilinear`
    module, which draws them once.

    Args:
        features: Features ``[N, D]``.
        probs: Softmax predictions ``[N, C]``.
        random_dim: Width of the randomized map, or None for the exact map.
        seed: Seed of the random matrices.
        detach_probs: Stop the adversarial gradient through the predictions, as the
            CDAN reference implementation does.
    """
    if detach_probs:
        probs = probs.detach()
    if random_dim is None:
        return multilinear_map(features, probs)
    _check_cdan_inputs(features, probs)
    rf, rg = random_projections(features.shape[1], probs.shape[1], random_dim, seed)
    return randomized_multilinear_map(
        features,
        probs,
        rf.to(device=features.device, dtype=features.dtype),
        rg.to(device=probs.device, dtype=probs.dtype),
    )


def entropy_weights(probs: Tensor) -> Tensor:
    """CDAN+E example weights ``1 + exp(-H(p))``, normalised to mean 1 (detached).

    Call it once per domain so each domain's weights have mean 1.

    Args:
        probs: Softmax predictions of one domain ``[N, C]``.

    Returns:
        Weights ``[N]`` for :func:`domain_adversarial_loss`.
    """
    check_matrix(probs, "probs")
    w = 1.0 + torch.exp(-entropy(probs.detach(), from_logits=False, reduction="none"))
    return w / w.mean()
