"""Model selection: transferability scores, label-free validators, domain-shift measures.

Transferability scores (:mod:`.transferability`, registered in :data:`SCORES`: LogME,
LEEP, NCE, NLEEP, H-score, GBC, TransRate, SFDA, probes) rank pretrained models on target
features before any training; label-free validators (:mod:`.validators`, registered in
:data:`VALIDATORS`) select checkpoints without target labels; :mod:`.shift` measures
source-target distances. All are higher-is-better where they score; inputs are NumPy
arrays or tensors; results are Python floats.
"""

from __future__ import annotations

from graft.selection.gbc import gbc
from graft.selection.hscore import hscore, shrinkage_hscore
from graft.selection.leep import leep, nce, nleep
from graft.selection.logme import logme
from graft.selection.probes import knn_probe, linear_probe
from graft.selection.sfda import sfda
from graft.selection.shift import (
    PAD_C_GRID,
    linear_mmd,
    median_heuristic_gamma,
    proxy_a_distance,
    rbf_mmd,
    shift_report,
)
from graft.selection.transferability import SCORES, TransferScore, compute_scores
from graft.selection.transrate import transrate
from graft.selection.validators import (
    VALIDATORS,
    Validator,
    bnm_score,
    class_ami_score,
    cross_entropy_per_example,
    density_ratio_weights,
    dev_risk,
    dev_score,
    entropy_score,
    im_score,
    snd_score,
)

__all__ = [
    "PAD_C_GRID",
    "SCORES",
    "VALIDATORS",
    "TransferScore",
    "Validator",
    "bnm_score",
    "class_ami_score",
    "compute_scores",
    "cross_entropy_per_example",
    "density_ratio_weights",
    "dev_risk",
    "dev_score",
    "entropy_score",
    "gbc",
    "hscore",
    "im_score",
    "knn_probe",
    "leep",
    "linear_mmd",
    "linear_probe",
    "logme",
    "median_heuristic_gamma",
    "nce",
    "nleep",
    "proxy_a_distance",
    "rbf_mmd",
    "sfda",
    "shift_report",
    "shrinkage_hscore",
    "snd_score",
    "transrate",
]
