"""Model inputs of one batch: image/table tensors, or token batches (dicts of tensors).

Strategies that mix streams (source and target in one forward pass) use these helpers
instead of ``torch.cat``/``len`` so that they work on text exactly as on images.
"""

from __future__ import annotations

from typing import Any

import torch

TokenBatch = dict[str, torch.Tensor]


def pad_token_ids(ids: list[list[int]], pad_id: int) -> TokenBatch:
    """``input_ids`` and ``attention_mask`` ``[B, longest]``, padded on the right."""
    longest = max((len(s) for s in ids), default=0)
    input_ids = torch.full((len(ids), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


def concat_inputs(*parts: Any) -> Any:
    """One batch of several: tensors are concatenated; token batches are padded to one
    length (pad positions are masked out by ``attention_mask``, so the fill value is moot)."""
    first = parts[0]
    if torch.is_tensor(first):
        return torch.cat(list(parts))
    if isinstance(first, dict):
        width = max(p["input_ids"].shape[1] for p in parts)
        return {key: torch.cat([_pad_right(p[key], width, 0) for p in parts]) for key in first}
    if isinstance(first, (list, tuple)):  # raw strings for a module that tokenises itself
        return [item for p in parts for item in p]
    raise TypeError(f"Cannot concatenate inputs of type {type(first).__name__}.")


def take_inputs(x: Any, n: int) -> Any:
    """The first ``n`` examples of a batch of inputs (tensors, token batches or lists)."""
    if isinstance(x, dict):
        return {key: value[:n] for key, value in x.items()}
    return x[:n]


def input_count(x: Any) -> int:
    """How many examples a batch of inputs holds."""
    if isinstance(x, dict):
        return int(next(iter(x.values())).shape[0])
    return len(x)


def _pad_right(t: torch.Tensor, width: int, fill: int) -> torch.Tensor:
    if t.ndim < 2 or t.shape[1] == width:
        return t
    pad = t.new_full((t.shape[0], width - t.shape[1], *t.shape[2:]), fill)
    return torch.cat([t, pad], dim=1)
