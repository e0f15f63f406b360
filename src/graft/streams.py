"""From data sources to the datasets a strategy trains, selects and is tested on.

Two layouts, chosen by what a strategy ``needs`` (never by its name):

* supervised (default): the target's training split gives the labeled stream (K per
  class with ``labels_per_class``), its validation split selects the checkpoint.
* unsupervised domain adaptation (``needs`` has ``source`` and ``target``): the labeled
  stream is the source (a held-out 10 % of it is the source validation split); the
  target's training split is a second stream WITHOUT labels; there is no labeled
  target validation set: a label-free validator selects.

In both, the target's test split is only for the reported accuracy (and the clearly
named oracle curve).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from graft.data.base import DataSource, InputSpec, Splits
from graft.engine.config import TrainConfig
from graft.errors import ConfigError, DataError


class Unlabeled(Dataset):
    """A dataset whose labels are hidden (every label reads -1)."""

    def __init__(self, data: Dataset) -> None:
        self.data = data
        self.collate = getattr(data, "collate", None)

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

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


def build_streams(
    needs: frozenset[str],
    target: DataSource,
    source: DataSource | None,
    input_spec: InputSpec,
    cfg: TrainConfig,
    *,
    seed: int,
    split_seed: int,
    test_fraction: float,
    val_fraction: float,
    labels_per_class: int | None,
) -> Streams:
    """Split the sources and build the datasets for a strategy with ``needs``."""
    from graft.data import make_dataset, make_splits

    def ds(src: DataSource, idx: np.ndarray, augment: bool = False) -> Dataset:
        return make_dataset(src, idx, input_spec, augment=cfg.augment if augment else "none")

    if "target" in needs:
        if source is None:
            raise ConfigError("internal: a domain-adaptation layout needs a source")
        check_domains(source, target)
        splits = make_splits(target, seed=seed, split_seed=split_seed, test_fraction=test_fraction,
                             val_fraction=0.0, labels_per_class=None)
        src_splits = make_splits(source, seed=seed, split_seed=split_seed, test_fraction=0.1,
                                 val_fraction=0.0)
        pool = np.union1d(splits.train, splits.unlabeled)
        if len(pool) < cfg.batch_size:
            raise ConfigError(
                f"The target training split has {len(pool)} examples, fewer than --batch-size "
                f"{cfg.batch_size}. Fix: lower --batch-size to at most {len(pool)}, or lower "
                "--test-fraction to leave more target data for adaptation."
            )
        train = ds(source, src_splits.train, augment=True)
        plain = ds(source, src_splits.train) if cfg.augment != "none" else train
        target_plain = Unlabeled(ds(target, pool))
        target_train = Unlabeled(ds(target, pool, augment=True)) if cfg.augment != "none" else target_plain
        return Streams(train=train, plain_train=plain, val=None, test=ds(target, splits.test),
                       splits=splits, target=target_train, target_plain=target_plain,
                       source_val=ds(source, src_splits.test), n_train_labeled=len(src_splits.train))

    splits = make_splits(target, seed=seed, split_seed=split_seed, test_fraction=test_fraction,
                         val_fraction=val_fraction, labels_per_class=labels_per_class)
    train = ds(target, splits.train, augment=True)
    plain = ds(target, splits.train) if cfg.augment != "none" else train
    val = ds(target, splits.val) if len(splits.val) else None
    return Streams(train=train, plain_train=plain, val=val, test=ds(target, splits.test),
                   splits=splits, n_train_labeled=len(splits.train))


def check_domains(source: DataSource, target: DataSource) -> None:
    """Source and target must share classes (in order) and input kind and width."""
    if source.kind != target.kind:
        raise DataError(
            f"The source ({source.name}) holds {source.kind} data but the target ({target.name}) "
            f"holds {target.kind} data. Fix: pass a source and a target of the same kind."
        )
    if list(source.classes) != list(target.classes):
        only_s = sorted(set(source.classes) - set(target.classes))
        only_t = sorted(set(target.classes) - set(source.classes))
        detail = (f"only in the source: {only_s}; only in the target: {only_t}" if only_s or only_t
                  else "the same names in another order")
        raise DataError(
            f"Source {source.name} and target {target.name} have different class sets ({detail}). "
            "Allowed: the same classes in both domains. Fix: relabel or drop the extra classes."
        )
    if source.kind == "table" and source.width != target.width:
        raise DataError(
            f"The source has {source.width} feature columns but the target has {target.width}. "
            "Fix: select the same --feature-columns in both."
        )
