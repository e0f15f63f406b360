"""Domain adaptation given K labeled target examples per class (B9's "mcc with target labels")."""

from __future__ import annotations

import pytest


def test_domain_adaptation_given_k_target_labels_trains_them_with_the_source(make_source, tmp_path) -> None:
    import graft

    source, target = make_source("src", seed=1), make_source("tgt", seed=2, shift=1.5)
    plain = graft.fit("builtin:mlp", target, "mcc", source=source, out=tmp_path / "a", epochs=3, batch_size=16,
                      progress=False, shift_report=False)
    given = graft.fit("builtin:mlp", target, "mcc", source=source, labels_per_class=4, out=tmp_path / "b",
                      epochs=3, batch_size=16, progress=False, shift_report=False)
    assert given.metrics["n_train_labeled"] == plain.metrics["n_train_labeled"] + 4 * 3
    assert given.metrics["n_test"] == plain.metrics["n_test"]  # the same target test split scores both


def test_k_target_labels_on_an_unlabeled_target_are_refused(make_source, tmp_path) -> None:
    import graft
    from graft.errors import ConfigError

    source, target = make_source("src", seed=1), make_source("tgt", seed=2)
    bare = target.x  # the target's features without its labels
    with pytest.raises(ConfigError, match="has no labels"):
        graft.fit("builtin:mlp", bare, "mcc", source=source, labels_per_class=4, out=tmp_path / "c", epochs=2,
                  batch_size=16, progress=False, shift_report=False)
