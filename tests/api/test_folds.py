"""--folds K: stratified folds as validation or as test splits, one run per fold, mean ± std."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graft
from graft.data import make_splits
from graft.data.splits import Fold
from graft.errors import ConfigError


def test_validation_folds_keep_the_test_split_and_partition_the_rest(blobs_source) -> None:
    plain = make_splits(blobs_source, split_seed=0)
    folds = [make_splits(blobs_source, split_seed=0, fold=Fold(i, 3)) for i in range(3)]
    assert all(np.array_equal(f.test, plain.test) for f in folds)  # the test split stays out
    vals = np.concatenate([f.val for f in folds])
    assert len(vals) == len(np.unique(vals))  # disjoint
    assert set(vals) == set(plain.train) | set(plain.val)  # every non-test example validates once
    for f in folds:
        assert not set(f.train) & set(f.val) and not set(f.train) & set(f.test)
        assert len(np.unique(np.asarray(blobs_source.y)[f.val])) == 3  # stratified


def test_test_folds_test_every_example_exactly_once(blobs_source) -> None:
    folds = [make_splits(blobs_source, split_seed=0, val_fraction=0.1, fold=Fold(i, 4, "test")) for i in range(4)]
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests.tolist()) == list(range(len(blobs_source)))
    for f in folds:
        assert not set(f.test) & (set(f.train) | set(f.val)) and len(f.val) > 0


def test_fit_with_folds_writes_a_run_per_fold_and_a_summary(blobs_npz: Path, tmp_path: Path) -> None:
    cv = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", folds=3, fold_scope="test", out=tmp_path / "cv",
                   epochs=3, lr=1e-2, progress=False)
    assert len(cv.runs) == 3 and list(cv.table["fold"]) == [0, 1, 2]
    assert sum(cv.table["n_test"]) == 90  # every example of the 90 tested once
    assert cv.metrics["test_accuracy"] > 0.8 and "test_accuracy_std" in cv.metrics
    text = (tmp_path / "cv" / "summary.md").read_text()
    assert "3-fold" in text and "test_accuracy" in text and (tmp_path / "cv" / "folds.csv").is_file()
    config = (tmp_path / "cv" / "fold-1" / "config.yaml").read_text()
    assert "fold: 1" in config and "folds: 3" in config  # a fold's run reruns from its config.yaml


def test_compare_with_folds_has_a_row_per_fold(blobs_npz: Path, tmp_path: Path) -> None:
    results = graft.compare("builtin:mlp", f"npz:{blobs_npz}", ["scratch"], seeds=[0], out=tmp_path / "c",
                            folds=2, epochs=2, lr=1e-2, progress=False)
    assert list(results["fold"]) == [0, 1]
    fold0 = tmp_path / "c" / "runs" / "mlp-scratch-s0" / "fold-0" / "metrics.json"
    stamp = fold0.read_text()
    results = graft.compare("builtin:mlp", f"npz:{blobs_npz}", ["scratch"], seeds=[0], out=tmp_path / "c",
                            folds=2, epochs=2, lr=1e-2, progress=False, resume=True)
    assert list(results["fold"]) == [0, 1] and fold0.read_text() == stamp  # reused, not retrained


def test_fold_mistakes_are_one_line_errors(graft_cli, blobs_npz: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="smallest class"):
        make_splits(graft.data.load_source(f"npz:{blobs_npz}"), fold=Fold(0, 40))
    base = ["fit", "--model", "builtin:mlp", "--data", f"npz:{blobs_npz}", "--strategy", "scratch",
            "--out", str(tmp_path / "x")]
    code, _, err = graft_cli(*base, "--folds", "1")
    assert code == 2 and "--folds 1 is no cross-validation" in err and "Traceback" not in err
    code, _, err = graft_cli(*base, "--folds", "50")
    assert code == 2 and "more than the smallest class" in err and "Allowed: 2 to" in err


def test_auto_with_folds_picks_once_and_runs_every_fold(blobs_npz: Path, tmp_path: Path) -> None:
    cv = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "auto", folds=2, out=tmp_path / "cv", epochs=2, progress=False)
    assert len(cv.runs) == 2 and (tmp_path / "cv" / "auto.md").is_file()
    assert cv.metrics["auto_strategy"] == "scratch" and all(r.metrics["auto_strategy"] == "scratch" for r in cv.runs)
