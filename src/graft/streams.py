"""From data sources to the datasets a strategy trains, selects and is tested on.

Two layouts, chosen by what a strategy ``needs`` (never by its name):

* supervised (default): the target's training split gives the labeled stream (K per
  class with ``labels_per_class``), its validation split selects the checkpoint.
* unsupervised domain adaptation (``needs`` has ``source`` and ``target``): the labeled
  stream is the source (a held-out 10 % of it is the source validation split); the
  target's training split is a second stream WITHOUT labels; a label-free validator selects,
  unless ``--target-val K`` holds out K labeled target examples per class (neither trained nor
  adapted on) as the validation split.
* transfer from a labeled source (``needs`` has ``source`` but not ``target``): the target
  is laid out as in the supervised case (K labels per class, validation, test, the
  unlabeled rest) and the source's examples are a second, LABELED stream (90 % of them;
  10 % held out). Source and target may have different classes where the strategy allows.

In both, the target's test split is only for the reported accuracy (and the clearly
named oracle curve).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from graft.data.base import DataSource, InputSpec, Splits, dataset_size
from graft.engine.config import TrainConfig
from graft.errors import ConfigError, DataError


class Unlabeled(Dataset):
    """A dataset whose labels are hidden (every label reads -1)."""

    def __init__(self, data: Dataset) -> None:
        self.data = data
        self.collate = getattr(data, "collate", None)

    def __len__(self) -> int:
        return dataset_size(self.data)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        return self.data[i][0], -1


@dataclass
class Streams:
    """The datasets of one run and the counts metrics.json reports."""

    train: Dataset
    plain_train: Dataset
    val: Dataset | None
    test: Dataset
    splits: Splits
    target: Dataset | None = None
    target_plain: Dataset | None = None
    source_val: Dataset | None = None
    n_train_labeled: int = 0
    #: A labeled source beside a labeled target (``needs`` has ``source`` but not ``target``).
    source: Dataset | None = None
    source_plain: Dataset | None = None


@dataclass
class SplitPlan:
    """The index splits of one run, decided before the model and the preprocessing exist.

    Attributes:
        target: Splits of the target data.
        source: Splits of the labeled source (domain adaptation: ``train`` is the labeled
            stream, ``test`` the held-out 10 % for DEV); None otherwise.
    """

    target: Splits
    source: Splits | None = None
    #: The source is a labeled second stream beside a labeled target (not domain adaptation).
    labeled_source: bool = False
    #: Domain adaptation given K labeled target examples per class (``target.train``): they join
    #: the labeled source stream; every target training example is also in the unlabeled stream.
    target_labels: bool = False

    @property
    def adaptation(self) -> bool:
        return self.source is not None and not self.labeled_source

    @property
    def target_pool(self) -> np.ndarray:
        """The target's training rows used WITHOUT labels in domain adaptation."""
        return np.union1d(self.target.train, self.target.unlabeled)

    def training_rows(self, target: DataSource, source: DataSource | None) -> list[tuple[DataSource, np.ndarray]]:
        """Every row training may look at (labeled or not), never validation or test:
        what the input preprocessing is fitted on."""
        own = (target, np.union1d(self.target.train, self.target.unlabeled))
        if self.source is not None and source is not None:
            if self.labeled_source:  # the target's classes; the source is extra training data
                return [own, (source, self.source.train)]
            return [(source, self.source.train), (target, self.target_pool)]
        return [own]


def plan_splits(
    needs: frozenset[str],
    target: DataSource,
    source: DataSource | None,
    cfg: TrainConfig,
    *,
    seed: int,
    split_seed: int,
    test_fraction: float,
    val_fraction: float,
    labels_per_class: int | None,
    fold: Any = None,
    target_val: int = 0,
) -> SplitPlan:
    """Cut the index splits for a strategy with ``needs`` (``fold``: a
    :class:`~graft.data.splits.Fold` of the target's labeled data; ``target_val``: domain adaptation's
    labeled target validation examples per class, taken from the target's training split)."""
    from graft.data import make_splits

    if "target" in needs:
        if source is None:
            raise ConfigError("internal: a domain-adaptation layout needs a source")
        if fold is not None:
            raise ConfigError("--folds needs target labels to split, but domain adaptation does not train on them. "
                              "Fix: drop --folds (compare seeds instead: --seeds 0,1,2).")
        check_domains(source, target)
        labeled_target = (np.asarray(target.y) >= 0).any()
        if labels_per_class is not None and not labeled_target:
            raise ConfigError(
                f"--labels-per-class {labels_per_class} asks for labeled target examples, but {target.name} has no "
                "labels. Fix: drop --labels-per-class (the target adapts without labels), or label some of it."
            )
        if target_val and not labeled_target:
            raise ConfigError(
                f"--target-val {target_val} holds out labeled target examples to select the checkpoint, but "
                f"{target.name} has no labels. Fix: label a few target examples per class (a label column, or class "
                "subfolders) and keep the rest unlabeled, or drop --target-val (label-free selection).")
        if labeled_target:  # with K: K labeled target examples per class join the labeled stream
            splits = make_splits(target, seed=seed, split_seed=split_seed, test_fraction=test_fraction,
                                 val_fraction=0.0, labels_per_class=labels_per_class, val_per_class=target_val or None)
            if not target_val and len(splits.val):  # a predefined val/ split: adapted on, unlabeled, as the rest
                splits = Splits(train=splits.train, val=np.zeros(0, dtype=np.int64), test=splits.test,
                                unlabeled=np.union1d(splits.unlabeled, splits.val))
        else:  # an unlabeled target: every example adapts, none is scored
            empty = np.zeros(0, dtype=np.int64)
            splits = Splits(train=np.arange(len(target), dtype=np.int64), val=empty, test=empty)
        src_splits = make_splits(source, seed=seed, split_seed=split_seed, test_fraction=0.1,
                                 val_fraction=0.0)
        plan = SplitPlan(splits, src_splits, target_labels=labels_per_class is not None)
        if len(plan.target_pool) < cfg.batch_size:
            raise ConfigError(
                f"The target training split has {len(plan.target_pool)} examples, fewer than --batch-size "
                f"{cfg.batch_size}. Fix: lower --batch-size to at most {len(plan.target_pool)}, or lower "
                "--test-fraction to leave more target data for adaptation."
            )
        return plan
    splits = make_splits(target, seed=seed, split_seed=split_seed, test_fraction=test_fraction,
                         val_fraction=val_fraction, labels_per_class=labels_per_class, fold=fold)
    _warn_small_validation(target, splits)
    if "source" in needs:
        if source is None:
            raise ConfigError("internal: a labeled-source layout needs a source")
        check_kinds(source, target)
        return SplitPlan(splits, make_splits(source, seed=seed, split_seed=split_seed, test_fraction=0.1,
                                             val_fraction=0.0), labeled_source=True)
    return SplitPlan(splits)


def _warn_small_validation(target: DataSource, splits: Splits) -> None:
    n_val = len(splits.val)
    if n_val == 0:
        return
    counts = np.bincount(np.asarray(target.y)[splits.val], minlength=target.num_classes)
    present = np.unique(np.asarray(target.y)[splits.train])
    thin = [target.classes[c] for c in present if counts[c] < 2]
    if n_val >= 20 and not thin:
        return
    from graft.notes import note

    why = f"{n_val} examples" + (f"; fewer than 2 of class(es) {', '.join(map(str, thin[:5]))}" if thin else "")
    note(f"The validation split is small ({why}): choosing the epoch, C or the starting model on it is "
         "mostly noise. Fix: raise --val-fraction (default 0.1) or add labeled data; --val-fraction 0 "
         "trains without selection (the last epoch is kept).")


@dataclass
class TeacherInputs:
    """How the teacher reads the target (distillation): the data encoded with the teacher's
    own schema, and its input spec (size, channels, normalisation, tokenizer)."""

    spec: InputSpec
    target: DataSource
    extra: DataSource | None = None


#: A ``needs`` entry: unlabeled examples of the target's task, read once as features after
#: training (a probe head's self-training rounds), never drawn in the training loop.
UNLABELED_FEATURES = "unlabeled-features"


def takes_unlabeled(needs: frozenset[str]) -> bool:
    """Whether a strategy with ``needs`` reads unlabeled examples of the target's task at all."""
    return "unlabeled" in needs or UNLABELED_FEATURES in needs


def build_streams(
    plan: SplitPlan,
    target: DataSource,
    source: DataSource | None,
    input_spec: InputSpec,
    cfg: TrainConfig,
    *,
    unlabeled: bool = False,
    unlabeled_in_loop: bool = True,
    extra_unlabeled: DataSource | None = None,
    require_unlabeled: bool = True,
    teacher: TeacherInputs | None = None,
) -> Streams:
    """Build the datasets of a planned run (sources already encoded for the model).

    Args:
        unlabeled: Also give the unlabeled rest of the target's training split as a second
            stream (semi-supervised strategies; ``needs`` has ``unlabeled``).
        unlabeled_in_loop: False: only the plain (un-augmented) unlabeled examples are given, as
            ``target_plain``, for features read once after training (``needs`` has
            ``unlabeled-features``); the training loop draws no unlabeled batches, so its
            epochs are as long as the labeled stream's alone.
        extra_unlabeled: More unlabeled data of the target's task (``--unlabeled``), added to
            that stream; its labels, if any, are never read.
        require_unlabeled: With ``unlabeled``: refuse a run that has no unlabeled example
            (False: the stream is then None, e.g. distillation on the labeled data alone).
        teacher: The teacher's inputs: the training streams (labeled and unlabeled) then
            hold :class:`~graft.data.paired.Views` of each example, the student's and the
            teacher's; validation and test hold the student's only.
    """
    from graft.data import make_dataset
    from graft.data.paired import PairedViews

    teacher_of = {id(target): teacher.target, id(extra_unlabeled): teacher.extra} if teacher else {}

    def ds(src: DataSource, idx: np.ndarray, augment: bool = False, paired: bool = False) -> Dataset:
        mode = cfg.augment if augment else "none"
        data = make_dataset(src, idx, input_spec, augment=mode)
        if not paired or teacher is None:
            return data
        t_src = teacher_of.get(id(src))
        if t_src is None:
            raise ConfigError("internal: the teacher has no view of this data")
        return PairedViews(data, make_dataset(t_src, idx, teacher.spec, augment=mode))

    splits = plan.target
    if plan.source is not None and not plan.labeled_source:
        if source is None:
            raise ConfigError("internal: a domain-adaptation plan needs its source")
        src_splits, pool = plan.source, plan.target_pool
        train = ds(source, src_splits.train, augment=True)
        plain = ds(source, src_splits.train) if cfg.augment != "none" else train
        n_labeled = len(src_splits.train)
        if plan.target_labels:  # the K labeled target examples train with the source's
            train = _concat([train, ds(target, splits.train, augment=True)])
            plain = _concat([plain, ds(target, splits.train)]) if cfg.augment != "none" else train
            n_labeled += len(splits.train)
        target_plain = Unlabeled(ds(target, pool))
        target_train = Unlabeled(ds(target, pool, augment=True)) if cfg.augment != "none" else target_plain
        val = ds(target, splits.val) if len(splits.val) else None  # --target-val's held-out labeled examples
        return Streams(train=train, plain_train=plain, val=val, test=ds(target, splits.test),
                       splits=splits, target=target_train, target_plain=target_plain,
                       source_val=ds(source, src_splits.test), n_train_labeled=n_labeled)

    train = ds(target, splits.train, augment=True, paired=True)
    plain = ds(target, splits.train) if cfg.augment != "none" or teacher is not None else train
    val = ds(target, splits.val) if len(splits.val) else None
    rest: Dataset | None = None
    rest_plain: Dataset | None = None
    if unlabeled:
        pieces: list[tuple[DataSource, np.ndarray]] = []  # (data, rows) of the unlabeled examples
        if len(splits.unlabeled):
            pieces.append((target, splits.unlabeled))
        if extra_unlabeled is not None:
            if extra_unlabeled.kind != target.kind:
                raise DataError(f"--unlabeled {extra_unlabeled.name} holds {extra_unlabeled.kind} data but the "
                                f"target holds {target.kind} data. Fix: pass unlabeled {target.kind} data.")
            pieces.append((extra_unlabeled, np.arange(len(extra_unlabeled), dtype=np.int64)))
        if not pieces and require_unlabeled:
            raise ConfigError(
                "This strategy learns from unlabeled examples too, but every training example is labeled and "
                "no --unlabeled data was given. Allowed: data with unlabeled rows. Fix: pass --labels-per-class K "
                "(the rest of the training split becomes the unlabeled stream), --unlabeled SPEC, or leave some "
                "labels empty."
            )
        if pieces:  # the plain examples serve features computed once; the augmented ones, the loop only
            rest_plain = _join([Unlabeled(ds(src, rows)) for src, rows in pieces])
            if unlabeled_in_loop:
                rest = _join([Unlabeled(ds(src, rows, augment=True, paired=True)) for src, rows in pieces])
    streams = Streams(train=train, plain_train=plain, val=val, test=ds(target, splits.test),
                      splits=splits, target=rest, target_plain=rest_plain, n_train_labeled=len(splits.train))
    if plan.labeled_source and plan.source is not None and source is not None:
        streams.source = ds(source, plan.source.train, augment=True)
        streams.source_plain = ds(source, plan.source.train) if cfg.augment != "none" else streams.source
        streams.source_val = ds(source, plan.source.test)
        if len(splits.unlabeled):
            streams.target_plain = Unlabeled(ds(target, splits.unlabeled))
    return streams


def map_paired(data: Dataset | None, fn: Any) -> Dataset | None:
    """``data`` with every :class:`~graft.data.paired.PairedViews` inside it (under
    ``Unlabeled`` and concatenations) replaced by ``fn(pair)``."""
    from torch.utils.data import ConcatDataset

    from graft.data.paired import PairedViews

    if isinstance(data, PairedViews):
        return fn(data)
    if isinstance(data, Unlabeled):
        return Unlabeled(map_paired(data.data, fn))  # type: ignore[arg-type]
    if isinstance(data, ConcatDataset):
        return _concat([map_paired(d, fn) for d in data.datasets])  # type: ignore[misc]
    return data


def _join(parts: list[Dataset]) -> Dataset:
    """One dataset of ``parts``: the only one, or their concatenation."""
    return parts[0] if len(parts) == 1 else _concat(parts)


def _concat(parts: list[Dataset]) -> Dataset:
    from torch.utils.data import ConcatDataset

    joined: ConcatDataset[Any] = ConcatDataset(parts)
    joined.collate = getattr(parts[0], "collate", None)  # type: ignore[attr-defined]
    return joined


def check_kinds(source: DataSource, target: DataSource) -> None:
    """Source and target must hold the same kind of input (and the same columns for tables)."""
    if source.kind != target.kind:
        raise DataError(
            f"The source ({source.name}) holds {source.kind} data but the target ({target.name}) "
            f"holds {target.kind} data. Fix: pass a source and a target of the same kind."
        )
    _check_columns(source, target)


def check_domains(source: DataSource, target: DataSource) -> None:
    """Source and target must share classes (in order) and input kind and width."""
    check_kinds(source, target)
    if source.classes and target.classes and list(source.classes) != list(target.classes):
        only_s = sorted(set(source.classes) - set(target.classes))
        only_t = sorted(set(target.classes) - set(source.classes))
        detail = (f"only in the source: {only_s}; only in the target: {only_t}" if only_s or only_t
                  else "the same names in another order")
        raise DataError(
            f"Source {source.name} and target {target.name} have different class sets ({detail}). "
            "Allowed: the same classes in both domains. Fix: relabel or drop the extra classes."
        )


def _check_columns(source: DataSource, target: DataSource) -> None:
    s_cols, t_cols = source.meta.get("feature_columns"), target.meta.get("feature_columns")
    if source.kind == "table" and s_cols and t_cols and set(s_cols) != set(t_cols):
        raise DataError(
            f"The source and the target have different feature columns (only in the source: "
            f"{sorted(set(s_cols) - set(t_cols))[:5]}; only in the target: {sorted(set(t_cols) - set(s_cols))[:5]}). "
            "Fix: select the same --feature-columns in both."
        )
    if source.kind == "table" and source.width != target.width:
        raise DataError(
            f"The source has {source.width} feature columns but the target has {target.width}. "
            "Fix: select the same --feature-columns in both."
        )
