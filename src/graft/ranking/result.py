"""What a ranking found: the table of scores, per-score ranks, the consensus and the winners."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graft.selection.transferability import NO_SOURCE_HEAD, SCORES


@dataclass
class RankResult:
    """The outcome of :func:`graft.rank`.

    Attributes:
        table: One row per model, best consensus first: ``model``, one column per score
            (NaN where a score does not apply: see ``source_head``), ``consensus_rank``,
            ``feature_dim``, ``seconds`` (build + features + scores), ``source_head``, and
            with verification ``test_accuracy`` and ``finetune_seconds``.
        scores: The scores computed, in order.
        consensus_scores: The scores the consensus rank averages (those every model has).
        data: The data's name.
        labels_per_class: K, or None for every label of the training split.
        n_train: Labeled training examples the scores saw.
        correlations: With verification, one row per score: Kendall tau and weighted tau
            against the measured accuracy, its top-1 pick and that pick's accuracy.
        out: The folder written, if any.
    """

    table: pd.DataFrame
    scores: list[str]
    consensus_scores: list[str]
    data: str
    labels_per_class: int | None
    n_train: int
    correlations: pd.DataFrame | None = None
    out: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> str:
        """The model with the best consensus rank."""
        return str(self.table["model"].iloc[0])

    def winners(self) -> dict[str, str]:
        """Score → the model it ranks first, or ``tie (...)`` when several share the best
        value (scores that apply to no model are left out)."""
        out = {}
        for name, ranks in self.ranks().drop(columns="model").items():
            if ranks.notna().any():
                first = self.table["model"][ranks == ranks.min()]
                out[str(name)] = str(first.iloc[0]) if len(first) == 1 else f"tie ({len(first)} models)"
        return out

    def ranks(self) -> pd.DataFrame:
        """Per-score ranks (1 = best; ties share the mean rank), one row per model."""
        return per_score_ranks(self.table, self.scores)

    def cell(self, row: int, score: str, *, short: bool = False) -> str:
        """A score as tables show it: 3 decimals, or why it is missing (``n/a`` when ``short``)."""
        value = self.table[score].iloc[row]
        if pd.isna(value):
            if not SCORES.get(score).needs_source:
                return "—"
            return "n/a" if short else NO_SOURCE_HEAD
        return f"{value:.4g}" if abs(value) >= 100 else f"{value:.3f}"


def per_score_ranks(table: pd.DataFrame, scores: list[str]) -> pd.DataFrame:
    """Rank of each model under each score (1 = highest score)."""
    ranks = pd.DataFrame({"model": table["model"]})
    for name in scores:
        values = comparable(pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float))
        ranks[name] = pd.Series(values, index=table.index).rank(ascending=False, method="average")
    return ranks


def comparable(values: np.ndarray) -> np.ndarray:
    """Scores rounded to 10 significant digits, so that values equal up to floating-point noise
    tie: a saturated H-score is C - 1 for every model, and the noise must not order them."""
    values = np.asarray(values, dtype=float)
    safe = np.where(np.isfinite(values) & (values != 0), np.abs(values), 1.0)
    digits = (9 - np.floor(np.log10(safe))).astype(int)
    return np.array([round(v, d) if np.isfinite(v) else np.nan for v, d in zip(values, digits)])


def consensus(table: pd.DataFrame, scores: list[str]) -> tuple[pd.Series, list[str]]:
    """Mean rank over the scores every model has (all the scores, if none is complete)."""
    ranks = per_score_ranks(table, scores)
    complete = [s for s in scores if ranks[s].notna().all()]
    used = complete or scores
    return ranks[used].mean(axis=1, skipna=True), used
