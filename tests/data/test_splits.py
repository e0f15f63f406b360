import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from graft.data import DataSource, from_arrays, make_splits
from graft.errors import ConfigError, DataError


def _all(s) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    return [s.train, s.val, s.test, s.unlabeled]


def test_digits_50_50_matches_sklearn(digits: DataSource) -> None:
    idx = np.arange(len(digits))
    want_train, want_test = train_test_split(idx, test_size=0.5, stratify=digits.y, random_state=0)
    plain = make_splits(digits, val_fraction=0)
    np.testing.assert_array_equal(plain.test, np.sort(want_test))
    np.testing.assert_array_equal(plain.train, np.sort(want_train))
    assert len(plain.val) == 0
    with_val = make_splits(digits)
    np.testing.assert_array_equal(with_val.test, np.sort(want_test))
    np.testing.assert_array_equal(np.union1d(with_val.train, with_val.val), np.sort(want_train))


def test_splits_are_stratified_disjoint_sorted(digits: DataSource) -> None:
    s = make_splits(digits, test_fraction=0.3, val_fraction=0.2, labels_per_class=5)
    for part in _all(s):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)
    for other in (s.train, s.val, s.unlabeled):
        assert len(np.intersect1d(s.test, other)) == 0
    assert len(np.intersect1d(s.train, s.val)) == 0 and len(np.intersect1d(s.train, s.unlabeled)) == 0
    assert sum(len(p) for p in _all(s)) == len(digits)
    share = np.bincount(digits.y[s.test], minlength=10) / np.bincount(digits.y)
    assert np.all(np.abs(share - 0.3) < 0.02)
    assert np.bincount(digits.y[s.train]).tolist() == [5] * 10


def test_deterministic_and_seeds_have_separate_roles(digits: DataSource) -> None:
    a = make_splits(digits, labels_per_class=3, seed=1)
    b = make_splits(digits, labels_per_class=3, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(_all(a), _all(b)))
    other_seed = make_splits(digits, labels_per_class=3, seed=2)
    np.testing.assert_array_equal(a.test, other_seed.test)
    np.testing.assert_array_equal(a.val, other_seed.val)
    assert not np.array_equal(a.train, other_seed.train)
    other_split = make_splits(digits, labels_per_class=3, seed=1, split_seed=1)
    assert not np.array_equal(a.test, other_split.test)


def test_labels_per_class_too_large_names_the_class() -> None:
    y = np.array([0] * 20 + [1] * 8)
    src = from_arrays(np.zeros((28, 2)), y, classes=["cat", "7"])
    want = (
        r"--labels-per-class 50 is larger than the smallest class "
        r"\('7' has 4 training examples\)\. Allowed: 1\.\.4\. Fix: lower K"
    )
    with pytest.raises(ConfigError, match=want):
        make_splits(src, val_fraction=0, labels_per_class=50)
    with pytest.raises(ConfigError, match="must be at least 1; got 0"):
        make_splits(src, labels_per_class=0)


def test_fractions_are_checked(digits: DataSource) -> None:
    with pytest.raises(ConfigError, match="--test-fraction must be between 0 and 1"):
        make_splits(digits, test_fraction=1.0)
    with pytest.raises(ConfigError, match=r"--val-fraction must be in \[0, 1\)"):
        make_splits(digits, val_fraction=-0.1)


def test_a_class_with_one_example_cannot_be_split() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])  # class 2 has a single example
    with pytest.raises(DataError, match="Class '2' has 1 labeled example; a stratified train/test split needs"):
        make_splits(from_arrays(np.zeros((9, 2)), y), test_fraction=0.5, val_fraction=0.3)
    src = from_arrays(np.zeros((9, 2)), y)
    src.splits = {"train": np.arange(8), "test": np.array([8])}  # predefined splits need no stratifying...
    with pytest.raises(DataError, match="class '2' is in the test split but has no training example"):
        make_splits(src)  # ...but a class only in test cannot be learned
    src.splits = {"train": np.array([0, 1, 4, 5, 8]), "test": np.array([2, 3, 6, 7])}
    assert make_splits(src).test.tolist() == [2, 3, 6, 7]


def test_a_class_missing_from_train_is_named() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    src = from_arrays(np.zeros((6, 2)), y, classes=["cat", "dog", "owl"])
    src.splits = {"train": np.array([0, 2]), "val": np.array([1, 4]), "test": np.array([3, 5])}
    with pytest.raises(DataError, match="class 'owl' is in the validation split but has no training example"):
        make_splits(src)


def test_unknown_labels_only_go_to_unlabeled() -> None:
    y = np.array([0, 1] * 10 + [-1] * 4)
    s = make_splits(from_arrays(np.zeros((24, 2)), y, classes=["a", "b"]))
    np.testing.assert_array_equal(s.unlabeled, np.arange(20, 24))
    assert np.all(y[np.concatenate([s.train, s.val, s.test])] >= 0)


def test_predefined_test_without_val_carves_val_from_train() -> None:
    src = from_arrays(np.zeros((40, 2)), np.arange(40) % 2)
    src.splits = {"train": np.arange(30), "test": np.arange(30, 40)}
    s = make_splits(src, val_fraction=0.2)
    np.testing.assert_array_equal(s.test, np.arange(30, 40))
    assert len(s.val) == 6 and np.union1d(s.train, s.val).tolist() == list(range(30))
