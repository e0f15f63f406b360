"""The kNN and linear probes: a hand-written leave-one-out reference, and accuracy bounds."""

from __future__ import annotations

import numpy as np
import pytest

from graft.errors import ConfigError, DataError
from graft.selection import probes
from graft.selection.probes import knn_probe, linear_probe


def reference_knn(f: np.ndarray, y: np.ndarray, k: int) -> float:
    unit = f / np.linalg.norm(f, axis=1, keepdims=True)
    correct = 0
    for i in range(len(f)):
        sim = unit @ unit[i]
        sim[i] = -np.inf
        order = np.argsort(-sim)[:k]
        counts = np.bincount(y[order], minlength=y.max() + 1)
        tied = np.flatnonzero(counts == counts.max())
        pick = next(y[j] for j in order if y[j] in tied)  # ties: the nearest neighbour's class
        correct += int(pick == y[i])
    return correct / len(f)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_knn_probe_matches_a_loop_over_examples(make_blobs, k: int, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = make_blobs(20, width=4, noise=3.0)
    monkeypatch.setattr(probes, "_CHUNK", 7)  # several chunks, a short last one
    assert knn_probe(x, y, k=k) == pytest.approx(reference_knn(x, y, k))


def test_knn_probe_default_k_follows_the_smallest_class(make_blobs) -> None:
    x, y = make_blobs(20, width=4, noise=3.0)
    assert knn_probe(x, y) == pytest.approx(reference_knn(x, y, 5))
    few = np.r_[np.flatnonzero(y == 0)[:2], np.flatnonzero(y == 1)[:2], np.flatnonzero(y == 2)[:2]]
    assert knn_probe(x[few], y[few]) == pytest.approx(reference_knn(x[few], y[few], 1))
    with pytest.raises(ConfigError, match="'k' parameter"):
        knn_probe(x, y, k=len(x))


def test_linear_probe_separates_blobs_and_is_at_chance_on_shuffled_labels(make_blobs) -> None:
    x, y = make_blobs(40, width=6)
    assert linear_probe(x, y) > 0.95
    assert linear_probe(x, np.random.default_rng(0).permutation(y)) < 0.6
    assert linear_probe(x, y, seed=1) == linear_probe(x, y, seed=1)


def test_probes_refuse_a_single_example_class() -> None:
    x = np.random.default_rng(0).normal(size=(7, 3))
    for probe in (knn_probe, linear_probe):
        with pytest.raises(DataError, match="at least 2 examples"):
            probe(x, [0, 0, 0, 1, 1, 1, 2])
