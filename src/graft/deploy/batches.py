"""A graft data set (images resized once, tables encoded, texts tokenised) as batches of
numpy arrays named as the exported graph's inputs; no torch operation runs here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def numpy_batches(dataset: Any, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """Model-ready batches of ``dataset`` (from :func:`graft.data.make_dataset`), in order.

    Images are scaled and normalised exactly as the torch path does (float32 ``x / 255``,
    then ``(x - mean) / std``); token batches are padded on the right to their longest text.
    """
    n = len(dataset)
    if hasattr(dataset, "images"):  # ImageDataset: uint8 [N, C, H, W]
        images = dataset.images.numpy()
        mean, std = dataset.mean.numpy()[None], dataset.std.numpy()[None]
        for start in range(0, n, batch_size):
            x = images[start:start + batch_size].astype(np.float32) / np.float32(255.0)
            yield {"input": (x - mean) / std}
    elif hasattr(dataset, "features"):  # TableDataset: float32 [N, D]
        features = dataset.features.numpy()
        for start in range(0, n, batch_size):
            yield {"input": np.ascontiguousarray(features[start:start + batch_size], dtype=np.float32)}
    elif hasattr(dataset, "input_ids"):  # TokenizedText: token id lists
        for start in range(0, n, batch_size):
            yield pad_ids(dataset.input_ids[start:start + batch_size], dataset.pad_id)
    else:
        raise TypeError(f"Cannot batch a {type(dataset).__name__} for an exported model.")


def pad_ids(ids: list[list[int]], pad_id: int) -> dict[str, np.ndarray]:
    """``input_ids`` and ``attention_mask`` int64 ``[B, longest]``, padded on the right."""
    longest = max((len(s) for s in ids), default=0)
    input_ids = np.full((len(ids), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), longest), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = seq
        mask[row, :len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": mask}
