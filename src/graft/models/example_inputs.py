"""Synthetic model-ready inputs of any batch size, made from a model's :class:`InputSpec`.

They feed what needs a forward pass but no data: counting MACs, timing a model, tracing
it for export and checking the exported graph against PyTorch on other shapes.
"""

from __future__ import annotations

from typing import Any

import torch

from graft.data.base import InputSpec
from graft.errors import ConfigError

#: Tokens per text when a text model is timed or counted: its limit, at most this many.
COST_SEQ_LEN = 128


def example_inputs(spec: InputSpec, batch: int, *, seq_len: int | None = None, padded: bool = False,
                   seed: int = 0) -> Any:
    """A batch of ``batch`` inputs as the model takes them.

    Args:
        spec: What the model takes.
        batch: Examples in the batch.
        seq_len: Tokens per text (text models); default :func:`cost_seq_len`.
        padded: Text only: later rows are shorter, their tail masked out, as in a real
            padded batch (an all-ones mask can let a model skip its masking code).
        seed: Seeds the values, so a check is repeatable.

    Returns:
        Images: normalised ``float32 [B, C, H, W]`` made from random 0..255 pixels.
        Tables: ``float32 [B, width]`` standard normal (tables are standardised).
        Text: ``{"input_ids", "attention_mask"}`` int64 ``[B, seq_len]``.

    Raises:
        ConfigError: The spec lacks what a batch needs (an image size, a table width,
            a tokenizer).
    """
    g = torch.Generator().manual_seed(seed)
    if spec.kind == "image":
        if spec.size is None:
            raise ConfigError("The model sets no input image size, so no example input can be made. "
                              "Fix: build it with --image-size.")
        pixels = torch.randint(0, 256, (batch, spec.channels, *spec.size), generator=g).float() / 255.0
        mean = _per_channel(spec.mean, spec.channels)
        std = _per_channel(spec.std, spec.channels)
        return (pixels - mean) / std
    if spec.kind == "table":
        if spec.width is None:
            raise ConfigError("The table model declares no input width, so no example input can be made.")
        return torch.randn((batch, spec.width), generator=g)
    if spec.tokenizer is None:
        raise ConfigError("The text model names no tokenizer (it takes raw strings), so no token batch can be made.")
    length = seq_len or cost_seq_len(spec)
    ids = torch.randint(0, vocab_size(spec.tokenizer), (batch, length), generator=g)
    mask = torch.ones((batch, length), dtype=torch.long)
    if padded:
        for row in range(1, batch):
            keep = max(1, length - (row * 3) % length)
            mask[row, keep:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def cost_seq_len(spec: InputSpec) -> int:
    """The token count used to time and count a text model: its limit, at most :data:`COST_SEQ_LEN`."""
    return min(spec.max_length or COST_SEQ_LEN, COST_SEQ_LEN)


def vocab_size(tokenizer: str) -> int:
    from graft.data.text import load_tokenizer

    return len(load_tokenizer(tokenizer))


def _per_channel(values: tuple[float, ...], channels: int) -> torch.Tensor:
    t = torch.tensor(values, dtype=torch.float32)
    return t.expand(channels).reshape(1, channels, 1, 1) if t.numel() == 1 else t.reshape(1, channels, 1, 1)
