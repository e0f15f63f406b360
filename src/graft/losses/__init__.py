"""Loss functions for transfer learning: pure functions over tensors, thin modules for state.

Families: gradient reversal (:mod:`.grl`), MMD (:mod:`.mmd`), CORAL (:mod:`.coral`),
entropy and information maximization (:mod:`.entropy`), minimum class confusion
(:mod:`.mcc`), contrastive pair and SupCon losses (:mod:`.contrastive`), domain-adversarial and
CDAN (:mod:`.adversarial`), distillation (:mod:`.kd`), fine-tuning regularizers L2-SP, DELTA and
BSS (:mod:`.regularizers`).
"""

from __future__ import annotations

from graft.losses.adversarial import (
    DomainDiscriminator,
    RandomizedMultilinear,
    cdan_features,
    domain_accuracy,
    domain_adversarial_loss,
    entropy_weights,
    multilinear_map,
    random_projections,
    randomized_multilinear_map,
)
from graft.losses.contrastive import nt_xent_loss, pair_cosine_loss, supervised_contrastive_loss
from graft.losses.coral import coral, covariance, relative_coral
from graft.losses.entropy import entropy, information_maximization
from graft.losses.grl import GradientReversal, grad_reverse, grl_schedule
from graft.losses.kd import dist_loss, feature_kd_loss, kd_loss, standardized_kd_loss
from graft.losses.mcc import mcc_loss
from graft.losses.mmd import (
    gaussian_kernels,
    linear_mmd,
    mean_pairwise_sq_distance,
    mk_bandwidths,
    mk_mmd,
    squared_distances,
)
from graft.losses.regularizers import (
    attentive_feature_distance,
    batch_spectral_shrinkage,
    channel_attention,
    channel_axes,
    l2_sp,
)

__all__ = [
    "DomainDiscriminator",
    "GradientReversal",
    "RandomizedMultilinear",
    "attentive_feature_distance",
    "batch_spectral_shrinkage",
    "cdan_features",
    "channel_attention",
    "channel_axes",
    "coral",
    "covariance",
    "dist_loss",
    "domain_accuracy",
    "domain_adversarial_loss",
    "entropy",
    "entropy_weights",
    "feature_kd_loss",
    "gaussian_kernels",
    "grad_reverse",
    "grl_schedule",
    "information_maximization",
    "kd_loss",
    "l2_sp",
    "linear_mmd",
    "mcc_loss",
    "mean_pairwise_sq_distance",
    "mk_bandwidths",
    "mk_mmd",
    "multilinear_map",
    "nt_xent_loss",
    "pair_cosine_loss",
    "random_projections",
    "randomized_multilinear_map",
    "relative_coral",
    "squared_distances",
    "standardized_kd_loss",
    "supervised_contrastive_loss",
]
