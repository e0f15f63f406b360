"""The score registry: every score on the same tiny arrays, names, notes and guards."""

from __future__ import annotations

import numpy as np
import pytest

from graft.errors import ConfigError, DataError, SpecError
from graft.selection.transferability import (
    DEFAULT_SCORES,
    NO_SOURCE_HEAD,
    SCORES,
    check_class_counts,
    compute_scores,
    parse_scores,
)


@pytest.mark.parametrize("name", list(SCORES))
def test_every_score_ranks_class_structure_above_shuffled_labels(name: str, make_blobs) -> None:
    x, y = make_blobs(20, width=6, noise=1.5)
    shuffled = np.random.default_rng(5).permutation(y)
    # A source head that is informative about the target classes (a noisy one-hot over 5 classes).
    rng = np.random.default_rng(0)
    probs = np.eye(5)[y + 1] * 4 + rng.random((len(y), 5))
    probs /= probs.sum(1, keepdims=True)
    score = SCORES.get(name)
    assert score(x, y, probs) > score(x, shuffled, probs)


@pytest.mark.parametrize("name", list(SCORES))
def test_every_score_is_finite_when_d_is_far_above_n_and_a_label_value_is_skipped(name: str) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 2, 5], 4)  # class values 1, 3, 4 have no examples
    x = rng.normal(size=(12, 2500)).astype(np.float32)
    probs = rng.dirichlet(np.ones(7), size=12)
    assert np.isfinite(SCORES.get(name)(x, y, probs))


def test_compute_scores_notes_a_missing_source_head_instead_of_failing(make_blobs) -> None:
    x, y = make_blobs(10)
    out = compute_scores(["logme", "leep", "nce"], x, y, None)
    assert out["leep"] == NO_SOURCE_HEAD and out["nce"] == NO_SOURCE_HEAD
    assert isinstance(out["logme"], float)


def test_parse_scores_checks_names() -> None:
    assert parse_scores(None) == list(DEFAULT_SCORES)
    assert parse_scores("LogME, leep,logme") == ["logme", "leep"]
    with pytest.raises(SpecError, match="Did you mean 'logme'"):
        parse_scores("logm")
    with pytest.raises(ConfigError, match="names no score"):
        parse_scores(" , ")


def test_class_counts_are_checked_before_any_model_runs() -> None:
    check_class_counts(["logme", "knn"], [2, 3, 0])  # an absent class is not a thin one
    with pytest.raises(DataError, match="at least 2 classes"):
        check_class_counts(["logme"], [5, 0])
    with pytest.raises(DataError, match="'gbc' needs at least 2 examples.*class\\(es\\) b"):
        check_class_counts(["logme", "gbc"], [3, 1], classes=["a", "b"])
