"""semi-supervised: the unlabeled rest of the split is a second stream that trains the model."""

from __future__ import annotations

from pathlib import Path

import pytest

import graft
from graft.errors import ConfigError

QUIET = {"epochs": 4, "lr": 1e-2, "batch_size": 16, "progress": False, "threshold": 0.6}


def test_the_unlabeled_rest_is_pseudo_labelled(blobs_npz: Path, tmp_path: Path) -> None:
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="semi-supervised", labels_per_class=3,
                    out=tmp_path / "r", **QUIET)
    assert run.metrics["n_train_labeled"] == 9 and run.metrics["test_accuracy"] > 0.6
    trained = [row for row in run.history if row["epoch"] > 0]
    assert max(row["train_mask_rate"] for row in trained) > 0  # confident unlabeled rows did train
    # an epoch is one pass over the larger stream: the unlabeled rest, not the 9 labels
    assert len(trained) == 4 and run.metrics["epochs_run"] == 4


def test_without_unlabeled_rows_it_says_how_to_get_them(blobs_npz: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="every training example is labeled.*--labels-per-class K"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="semi-supervised", out=tmp_path / "r", **QUIET)
