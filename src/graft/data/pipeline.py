"""DataSource + indices + the model's InputSpec → a model-ready torch Dataset.

Images are decoded, channel-adapted and resized once, at construction, and stored as
``uint8 [N, C, H, W]``; each item is then only scaled, augmented and normalised.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from graft.data.base import DataSource, InputSpec, dataset_size
from graft.data.transforms import AUGMENTATIONS, Augment, adapt_channels, resize
from graft.errors import ConfigError, DataError

_BATCH = 256  # images resized per step; bounds the float32 working memory


class ImageDataset(Dataset[tuple[torch.Tensor, int]]):
    """Preprocessed images; items are ``(normalised float [C, H, W], label)``.

    Attributes:
        images: ``uint8 [N, C, H, W]`` at the model's size and channels.
        targets: Labels ``[N]`` (``-1`` where unknown).
    """

    def __init__(
        self, images: torch.Tensor, targets: np.ndarray, spec: InputSpec, augment: Augment | None
    ) -> None:
        channels = images.shape[1]
        self.images = images
        self.targets = targets
        self.augment = augment
        self.mean = _per_channel(spec.mean, channels, "mean")
        self.std = _per_channel(spec.std, channels, "std")
        if (self.std <= 0).any():
            raise ConfigError(f"InputSpec std must be positive; got {spec.std}.")

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = self.images[i].float().div_(255.0)
        if self.augment is not None:
            x = self.augment(x)
        return (x - self.mean) / self.std, int(self.targets[i])


class TableDataset(Dataset[tuple[torch.Tensor, int]]):
    """Rows of a feature table; items are ``(float32 [D], label)``."""

    def __init__(self, features: torch.Tensor, targets: np.ndarray) -> None:
        self.features = features
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.features[i], int(self.targets[i])


class TextDataset(Dataset[tuple[str, int]]):
    """Raw texts; items are ``(text, label)`` (tokenising is the model's job)."""

    def __init__(self, texts: list[str], targets: np.ndarray) -> None:
        self.texts = texts
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[str, int]:
        return self.texts[i], int(self.targets[i])


def _per_channel(values: tuple[float, ...], channels: int, what: str) -> torch.Tensor:
    if len(values) not in (1, channels):
        raise ConfigError(
            f"InputSpec {what} has {len(values)} values but the model takes {channels} "
            f"channels. Allowed: 1 value (shared) or {channels}."
        )
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1).expand(channels, 1, 1).clone()


def _check_kind(source: DataSource, spec: InputSpec) -> None:
    if source.kind == spec.kind:
        return
    fix = {
        "image": "pick an image model (timm:, builtin:lenet, builtin:efficientnet-lite0)",
        "table": "pick builtin:mlp for feature tables",
        "text": "pick a text model (hf:, builtin:minilm)",
    }[source.kind]
    raise DataError(
        f"{source.name} holds {source.kind} data but the model takes {spec.kind} input. "
        f"Allowed: data of the model's kind ({spec.kind}). Fix: {fix}, or load matching data."
    )


def _prepare_images(source: DataSource, indices: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """Select, channel-adapt and resize in batches; returns ``uint8 [N, C, H, W]``."""
    x = source.x
    if isinstance(x, list) and spec.size is None and len({x[i].shape[:2] for i in indices}) > 1:
        raise DataError(
            f"{source.name} has images of different sizes and the model sets no input size. "
            "Fix: give the model an input size (InputSpec.size) so images are resized once."
        )
    out: list[torch.Tensor] = []
    for start in range(0, len(indices), _BATCH):
        chunk = indices[start : start + _BATCH]
        if isinstance(x, list):
            parts = [_to_float(x[i][None], spec) for i in chunk]
        else:
            parts = [_to_float(x[chunk], spec)]
        batch = torch.cat(parts)
        out.append(batch.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8))
    if not out:
        size = spec.size or ((0, 0) if isinstance(x, list) else x.shape[1:3])
        return torch.zeros((0, spec.channels, *size), dtype=torch.uint8)
    return torch.cat(out)


def _to_float(images: np.ndarray, spec: InputSpec) -> torch.Tensor:
    batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    batch = adapt_channels(batch, spec.channels)
    if spec.size is not None:
        batch = resize(batch, spec.size).clamp_(0.0, 1.0)
    return batch


def make_dataset(
    source: DataSource, indices: np.ndarray, input_spec: InputSpec, *, augment: str = "none"
) -> Dataset[Any]:
    """Build the model-ready dataset of ``source[indices]``.

    Args:
        source: The data.
        indices: Which examples (a split from :func:`make_splits`).
        input_spec: What the model takes (kind, channels, size, mean/std, width).
        augment: Train-time augmentation: ``none``, ``light`` or ``flip``. Images only;
            tables and text ignore it, so a strategy's default (``light``) works for them.

    Returns:
        A Dataset of ``(x, y)`` with a ``targets`` array; images are
        ``float [C, H, W]`` normalised, tables ``float32 [D]``, texts token ids
        (padded per batch by the dataset's ``collate``) when the model names a
        tokenizer, else ``str``.

    Raises:
        DataError: Data of another kind than the model takes, or a width mismatch.
        SpecError: An unknown augmentation name.

    Example:
        >>> spec = InputSpec("image", channels=3, size=(32, 32), mean=(0.5,), std=(0.5,))
        >>> ds = make_dataset(load_source("builtin:digits"), np.arange(10), spec)
        >>> ds[0][0].shape
        torch.Size([3, 32, 32])
    """
    augmentation = AUGMENTATIONS.get(augment)
    _check_kind(source, input_spec)
    idx = np.asarray(indices, dtype=np.int64)
    if len(idx) and (idx.min() < 0 or idx.max() >= len(source)):
        raise DataError(f"indices must be in 0..{len(source) - 1} for {source.name}.")
    targets = np.asarray(source.y, dtype=np.int64)[idx]
    if source.kind == "image":
        images = _prepare_images(source, idx, input_spec)
        chosen = None if augment == "none" else augmentation
        return ImageDataset(images, targets, input_spec, chosen)
    if source.kind == "table":
        width = source.width
        if input_spec.width is not None and width != input_spec.width:
            raise DataError(
                f"{source.name}: the table has {width} feature columns, the model takes "
                f"{input_spec.width}. Fix: pick the feature columns the model was trained on "
                "(feature_columns=), or build the model from this data."
            )
        rows = _table_rows(source, idx)
        return TableDataset(torch.from_numpy(rows), targets)
    texts = [source.x[i] for i in idx]
    if input_spec.tokenizer is not None:
        from graft.data.text import tokenized_dataset

        return tokenized_dataset(texts, targets, input_spec)
    return TextDataset(texts, targets)


def _table_rows(source: DataSource, idx: np.ndarray) -> np.ndarray:
    """Rows of an encoded table; a raw one only when it is all numbers, used as they are."""
    x = source.x
    if hasattr(x, "iloc"):
        from pandas.api.types import is_numeric_dtype

        x = x.iloc[idx]
        if not all(is_numeric_dtype(x[c]) for c in x.columns) or x.isna().to_numpy().any():
            raise DataError(
                f"{source.name}: the table has categorical or missing values; encode it first with the "
                "preprocessing fitted on the training rows (graft.data.schema.InputSchema.fit(...).apply(source)), "
                "as graft.fit does."
            )
        return np.ascontiguousarray(x.to_numpy(), dtype=np.float32)
    return np.ascontiguousarray(x[idx], dtype=np.float32)


def random_subset(data: Dataset, n: int, seed: int = 0) -> Dataset:
    """At most ``n`` examples of ``data``, drawn with ``seed`` and kept in order."""
    size = dataset_size(data)
    if size <= n:
        return data
    g = torch.Generator().manual_seed(seed)
    return IndexSubset(data, torch.randperm(size, generator=g)[:n].sort().values.tolist())


class IndexSubset(Subset):
    """A ``Subset`` that keeps the data set's ``collate`` (token batches need it)."""

    def __init__(self, data: Dataset, indices: list[int]) -> None:
        super().__init__(data, indices)
        self.collate = getattr(data, "collate", None)
