"""The data contract shared by every loader, strategy and the engine.

A loader turns a spec (``builtin:digits``, ``folder:PATH``, ``csv:PATH``, ``npz:PATH``,
arrays) into a :class:`DataSource`: the whole labeled set in memory, before any
model-specific resizing. :func:`graft.data.splits.make_splits` then cuts stratified,
seeded index splits, and :func:`graft.data.pipeline.make_dataset` turns a source plus
indices plus the model's :class:`InputSpec` into a torch ``Dataset`` whose items are
model-ready ``(x, y)`` pairs (images resized once, not per epoch).
"""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from torch.utils.data import Dataset

Kind = Literal["image", "table", "text"]


def dataset_size(dataset: Dataset | Sized) -> int:
    """The number of examples of a map-style dataset (torch's ``Dataset`` type does not declare ``__len__``)."""
    if not isinstance(dataset, Sized):
        raise TypeError(f"{type(dataset).__name__} has no length: graft needs map-style datasets with __len__.")
    return len(dataset)


def dataset_labels(dataset: Dataset) -> np.ndarray:
    """The labels of a map-style dataset of ``(x, y)`` pairs (its ``targets`` when it has them)."""
    targets = getattr(dataset, "targets", None)
    if targets is None:
        targets = [dataset[i][1] for i in range(dataset_size(dataset))]
    if hasattr(targets, "cpu"):
        targets = targets.cpu().numpy()
    return np.asarray(targets)


@dataclass(frozen=True)
class InputSpec:
    """What a model expects as input; comes from the model's config.

    Attributes:
        kind: ``image``, ``table`` or ``text``.
        channels: Image channels the model takes (grayscale data is repeated to 3).
        size: Image ``(height, width)`` the model takes.
        mean: Per-channel normalisation mean, applied after scaling to [0, 1].
        std: Per-channel normalisation std.
        width: Number of features of a table model.
        max_length: Token limit of a text model; longer texts are truncated.
        tokenizer: Where a text model's tokenizer is (a local folder or a cached hub
            id); None passes raw strings to the model.
    """

    kind: Kind
    channels: int = 3
    size: tuple[int, int] | None = None
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    width: int | None = None
    max_length: int | None = None
    tokenizer: str | None = None


@dataclass
class DataSource:
    """A labeled data set held in memory.

    Attributes:
        name: The spec it was loaded from (``builtin:digits``, ``folder:/data/x``).
        kind: ``image``, ``table`` or ``text``.
        classes: Class names; label ``i`` means ``classes[i]``.
        x: Images as ``uint8`` array ``[N, H, W, C]`` (or a list of ``[H, W, C]`` arrays
            when sizes differ); tables as ``float32`` ``[N, D]``; texts as ``list[str]``.
        y: Integer labels ``[N]`` (``int64``), ``-1`` where unknown.
        splits: Predefined index splits (``train``/``val``/``test``) when the data
            came with them, for example a folder with ``train/`` and ``test/``.
        meta: Anything else a loader knows (file paths, column names, domains).
    """

    name: str
    kind: Kind
    classes: list[str]
    x: Any
    y: np.ndarray
    splits: dict[str, np.ndarray] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int | None:
        """Image channels, or None for tables and text."""
        if self.kind != "image":
            return None
        first = self.x[0]
        return 1 if first.ndim == 2 else int(first.shape[-1])

    @property
    def width(self) -> int | None:
        """Feature count of a table, or None."""
        return int(self.x.shape[1]) if self.kind == "table" else None


@dataclass(frozen=True)
class Splits:
    """Index arrays into a DataSource. ``test`` is never used by training or selection."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    unlabeled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
