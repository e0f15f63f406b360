"""Model selection without target labels, and domain-shift measures.

Label-free validators (:mod:`.validators`, higher is better, registered in
:data:`VALIDATORS`) and source-target distances (:mod:`.shift`). Inputs are NumPy
arrays or tensors; results are Python floats.
"""

from __future__ import annotations

from graft.selection.shift import (
    PAD_C_GRID,
    linear_mmd,
    median_heuristic_gamma,
    proxy_a_distance,
    rbf_mmd,
    shift_report,
)
from graft.selection.validators import (
    VALIDATORS,
    Validator,
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
    "VALIDATORS",
    "Validator",
    "cross_entropy_per_example",
    "density_ratio_weights",
    "dev_risk",
    "dev_score",
    "entropy_score",
    "im_score",
    "linear_mmd",
    "median_heuristic_gamma",
    "proxy_a_distance",
    "rbf_mmd",
    "shift_report",
    "snd_score",
]
