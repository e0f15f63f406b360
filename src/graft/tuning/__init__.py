"""Hyper-parameter search (``graft tune``): Optuna over the ranges declared next to the config fields.

- :mod:`graft.tuning.space`: the search space (declared ranges, ``--space`` overrides).
- :mod:`graft.tuning.study`: storage, study identity, resuming and sharing a study.
- :mod:`graft.tuning.trial`: one trial, a ``graft fit`` run scored on validation.
- :mod:`graft.tuning.report`: ``tune.md``, ``best.yaml`` and the plots.
- :mod:`graft.tuning.tune`: the search itself.
"""

from __future__ import annotations

from graft.tuning.space import Param, search_space
from graft.tuning.tune import TuneResult, run_tune

__all__ = ["Param", "TuneResult", "run_tune", "search_space"]
