"""Stratified, seeded index splits: train / val / test, plus unlabeled leftovers.

Two seeds on purpose: ``split_seed`` fixes which examples are test and val (keep it
fixed to compare runs on the same test set), ``seed`` picks the few labeled examples
kept by ``labels_per_class`` (vary it to measure label-sampling variance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graft.data.base import DataSource, Splits
from graft.errors import ConfigError, DataError

_EMPTY = np.zeros(0, dtype=np.int64)


def _stratified(
    idx: np.ndarray, y: np.ndarray, fraction: float, seed: int, *, at_least_one: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into ``(kept, taken)`` with ``fraction`` of each class taken.

    Uses scikit-learn's ``train_test_split`` (so results match it exactly); when
    stratification is impossible (a class with one example, fewer taken examples than
    classes) falls back to a per-class split in which single examples stay kept.
    """
    from sklearn.model_selection import train_test_split  # ~1 s import; keep the CLI fast

    if fraction == 0 or len(idx) == 0:
        return idx, _EMPTY
    try:
        kept, taken = train_test_split(idx, test_size=fraction, stratify=y[idx], random_state=seed)
        return np.asarray(kept), np.asarray(taken)
    except ValueError:
        pass
    rng = np.random.default_rng(seed)
    kept_parts, taken_parts = [], []
    for c in np.unique(y[idx]):
        members = rng.permutation(idx[y[idx] == c])
        n_take = int(round(len(members) * fraction))
        n_take = min(max(n_take, 1 if at_least_one else 0), len(members) - 1)
        taken_parts.append(members[:n_take])
        kept_parts.append(members[n_take:])
    return np.concatenate(kept_parts), np.concatenate(taken_parts)


def _check_fractions(test_fraction: float, val_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise ConfigError(
            f"--test-fraction must be between 0 and 1 (exclusive); got {test_fraction}. "
            "Fix: use for example 0.5 or 0.2."
        )
    if not 0 <= val_fraction < 1:
        raise ConfigError(
            f"--val-fraction must be in [0, 1); got {val_fraction}. "
            "Fix: use for example 0.1, or 0 for no validation split."
        )


def _predefined(source: DataSource) -> dict[str, np.ndarray]:
    splits = dict(source.splits or {})
    unknown = sorted(set(splits) - {"train", "val", "test"})
    if unknown:
        raise DataError(
            f"{source.name}: unknown predefined split(s) {unknown}. Allowed: train, val, test."
        )
    n = len(source)
    for key, idx in splits.items():
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise DataError(f"{source.name}: split '{key}' has indices outside 0..{n - 1}.")
        splits[key] = idx
    return splits


def _fractional(classes: list) -> bool:
    """Class names that are numbers, some not whole (2.5): values of a measurement, not classes."""
    try:
        values = [float(c) for c in classes]
    except (TypeError, ValueError):
        return False
    return any(v != int(v) for v in values if np.isfinite(v))


def _check_two_per_class(source: DataSource, pool: np.ndarray, y: np.ndarray) -> None:
    counts = np.bincount(y[pool], minlength=len(source.classes))
    lonely = [i for i, c in enumerate(counts) if c == 1]
    if lonely and len(counts) > 20 and (len(lonely) > len(counts) // 2 or _fractional(source.classes)):
        raise DataError(  # many classes, most single or with fractions: a continuous target
            f"{source.name}: the labels look continuous ({len(counts)} distinct values, {len(lonely)} of them "
            "once): graft classifies, and a class needs at least 2 examples. Allowed: a label column of classes. "
            "Fix: pass the column of classes as --label-column, or bin the values into classes first "
            "(e.g. pandas.qcut)."
        )
    if lonely:
        names = ", ".join(f"'{source.classes[i]}'" for i in lonely[:5])
        raise DataError(
            f"{source.name}: Class {names} has 1 labeled example; a stratified train/test split "
            "needs at least 2 of every class (one to train on, one to test). Fix: add examples of "
            "it, drop its rows (e.g. a ?column!=value filter), or give predefined train/test splits."
        )


def _check_classes_trained(source: DataSource, y: np.ndarray, train: np.ndarray, val: np.ndarray,
                           test: np.ndarray) -> None:
    """A class that validation or test holds but training never sees cannot be learned."""
    trained = set(np.unique(y[train]).tolist())
    for name, idx in (("validation", val), ("test", test)):
        missing = sorted(set(np.unique(y[idx]).tolist()) - trained)
        if missing:
            names = ", ".join(f"'{source.classes[i]}'" for i in missing[:5])
            raise DataError(
                f"{source.name}: class {names} is in the {name} split but has no training example, so "
                "no model can learn it. Fix: add training examples of it (e.g. a train/"
                f"{source.classes[missing[0]]}/ folder), or remove it from the {name} data."
            )


def _few_labels(
    train: np.ndarray, y: np.ndarray, classes: list[str], k: object, seed: int, flag: str = "--labels-per-class",
    fractions: str = "--test-fraction / --val-fraction",
) -> tuple[np.ndarray, np.ndarray]:
    """Keep ``k`` random examples per class; return ``(labeled, rest)``. ``flag``: the option that asked, and
    ``fractions`` the options that leave more training examples, for the errors."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ConfigError(
            f"{flag} must be at least 1; got {k}. "
            "Fix: pass a positive K, or leave it out to use every training label."
        )
    present = np.unique(y[y >= 0])
    counts = {int(c): int(np.sum(y[train] == c)) for c in present}
    smallest = min(counts, key=lambda c: counts[c])
    if counts[smallest] == 0:
        raise ConfigError(
            f"Class '{classes[smallest]}' has no training examples, so {flag} "
            f"{k} cannot be met. Fix: lower {fractions}, or add examples."
        )
    if k > counts[smallest]:
        most = counts[smallest]
        raise ConfigError(
            f"{flag} {k} is larger than the smallest class "
            f"('{classes[smallest]}' has {most} training examples). Allowed: 1..{most}. "
            f"Fix: lower K to at most {most}, or lower {fractions} "
            "to leave more training examples."
        )
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.sort(train[y[train] == c]), size=k, replace=False) for c in present]
    labeled = np.concatenate(chosen)
    return labeled, np.setdiff1d(train, labeled)


@dataclass(frozen=True)
class Fold:
    """Fold ``index`` of ``count`` stratified folds; ``scope`` says what the fold is: the
    validation split (``val``) or the test split (``test``)."""

    index: int
    count: int
    scope: str = "val"

    def cut(self, pool: np.ndarray, y: np.ndarray, source: DataSource, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rest, fold)``: the fold's examples of ``pool`` and the others (stratified, shuffled with ``seed``)."""
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(y[pool], minlength=len(source.classes))
        present = counts[counts > 0]
        if len(present) and present.min() < 2:
            small = source.classes[int(np.flatnonzero(counts == present.min())[0])]
            raise ConfigError(
                f"--folds {self.count} needs at least 2 examples of every class to split, but {source.name}'s class "
                f"'{small}' has 1 in the {'labeled data' if self.scope == 'test' else 'training split'}. Allowed: "
                "classes of 2 or more examples. Fix: add examples of that class, or drop --folds."
            )
        if len(present) and present.min() < self.count:
            small = source.classes[int(np.flatnonzero(counts == present.min())[0])]
            raise ConfigError(
                f"--folds {self.count} is more than the smallest class has examples to share ({source.name}: class "
                f"'{small}' has {int(present.min())} in the "
                f"{'labeled data' if self.scope == 'test' else 'training split'}). "
                f"Allowed: 2 to {int(present.min())}. Fix: pass --folds {max(2, int(present.min()))} or fewer."
            )
        if not 0 <= self.index < self.count:
            raise ConfigError(f"--fold must be in 0..{self.count - 1} for --folds {self.count}. Got {self.index}.")
        folds = StratifiedKFold(n_splits=self.count, shuffle=True, random_state=seed)
        rest, part = list(folds.split(pool, y[pool]))[self.index]
        return pool[rest], pool[part]


def make_splits(
    source: DataSource,
    *,
    seed: int = 0,
    split_seed: int = 0,
    test_fraction: float = 0.5,
    val_fraction: float = 0.1,
    labels_per_class: int | None = None,
    fold: Fold | None = None,
    val_per_class: int | None = None,
) -> Splits:
    """Cut a source into train / val / test (and unlabeled) index arrays.

    Predefined splits (``source.splits``) are used where present. Otherwise the labeled
    examples are split into train and test, stratified, with ``split_seed``; validation
    is carved from train, never from test. With ``labels_per_class=K`` only K examples
    per class of the remaining train keep their labels; the rest, and every example
    whose label is unknown (``y == -1``), go to ``unlabeled``.

    Args:
        source: The data.
        seed: Seed of the ``labels_per_class`` sample.
        split_seed: Seed of the test and validation splits.
        test_fraction: Share of the labeled data held out for test.
        val_fraction: Share of the training data held out for validation (0: none).
        labels_per_class: Labeled training examples kept per class (None: all).
        val_per_class: Validation examples per class taken from the training split with ``split_seed``,
            instead of ``val_fraction`` (domain adaptation's ``--target-val K``); before ``labels_per_class``.
        fold: One fold of a stratified K-fold (:class:`Fold`): its part of the data is the
            validation split (``scope="val"``; the test split stays as it is) or the test split
            (``scope="test"``: every example is tested once over the K folds; validation is carved
            from the rest by ``val_fraction``).

    Returns:
        Sorted ``int64`` index arrays; equal arguments give equal splits.

    Raises:
        ConfigError: A fraction out of range, or K out of range for the data.

    Example:
        >>> s = make_splits(load_source("builtin:digits"), labels_per_class=5)
        >>> len(s.train), len(s.test)
        (50, 899)
    """
    _check_fractions(test_fraction, val_fraction)
    y = np.asarray(source.y, dtype=np.int64)
    labeled_mask = y >= 0
    unknown = np.flatnonzero(~labeled_mask)
    given = _predefined(source)
    given = {k: v[labeled_mask[v]] for k, v in given.items()}  # unlabeled never scored
    if fold is not None and fold.scope == "test":
        pool = np.setdiff1d(np.flatnonzero(labeled_mask), _EMPTY)
        rest, test = fold.cut(pool, y, source, split_seed)
        train, val = _stratified(rest, y, val_fraction, split_seed, at_least_one=False)
        given = {}
    elif "test" in given:
        test = given["test"]
        taken = np.union1d(test, given.get("val", _EMPTY))
        train = given.get("train", np.setdiff1d(np.flatnonzero(labeled_mask), taken))
    else:
        rest = np.setdiff1d(np.flatnonzero(labeled_mask), given.get("val", _EMPTY))
        pool = given.get("train", rest)
        _check_two_per_class(source, pool, y)
        train, test = _stratified(pool, y, test_fraction, split_seed, at_least_one=True)
    if fold is not None and fold.scope == "test":
        pass
    elif fold is not None:  # the fold is the validation split; the test split stays out
        pool = np.union1d(train, given.get("val", _EMPTY))
        train, val = fold.cut(pool, y, source, split_seed)
    elif val_per_class:
        val, train = _few_labels(train, y, source.classes, val_per_class, split_seed, "--target-val", "--test-fraction")
    elif "val" in given:
        val = given["val"]
    else:
        train, val = _stratified(train, y, val_fraction, split_seed, at_least_one=False)
    if len(train) == 0 or len(test) == 0:
        raise DataError(
            f"{source.name}: too few labeled examples to split ({len(train)} train, "
            f"{len(test)} test). Fix: add examples, or provide train/ and test/ folders."
        )
    if not val_per_class:  # --target-val's domain adaptation learns its classes from the source: any may be all val
        _check_classes_trained(source, y, train, val, test)
    unlabeled = unknown
    if labels_per_class is not None:
        train, rest = _few_labels(train, y, source.classes, labels_per_class, seed)
        unlabeled = np.union1d(unlabeled, rest)
    return Splits(
        train=np.sort(train).astype(np.int64),
        val=np.sort(val).astype(np.int64),
        test=np.sort(test).astype(np.int64),
        unlabeled=np.sort(unlabeled).astype(np.int64),
    )
