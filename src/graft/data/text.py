"""Texts → token ids once, then batches padded to their own longest text (dynamic padding).

A text model names its tokenizer in :attr:`InputSpec.tokenizer` (a local folder or a
hub id already cached); :func:`tokenized_dataset` tokenises every text once, truncated
to :attr:`InputSpec.max_length`, and the dataset's ``collate`` pads each batch only to
its longest member, so short texts cost short sequences.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from graft.data.base import InputSpec
from graft.data.batching import TokenBatch, pad_token_ids
from graft.errors import ConfigError


@lru_cache(maxsize=8)
def load_tokenizer(name: str) -> Any:
    """The transformers tokenizer saved at ``name`` (local files only, cached per process)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"No tokenizer could be loaded from '{name}' ({str(exc).splitlines()[0]}). A text model "
            "needs its tokenizer files (tokenizer.json or vocab.txt) next to config.json. Fix: save "
            "the tokenizer with tokenizer.save_pretrained(folder) into the model folder."
        ) from exc


class TokenizedText(Dataset[tuple[list[int], int]]):
    """Token ids per text; ``collate`` pads a batch to its longest text.

    Attributes:
        input_ids: Token ids per text, truncated to the model's limit.
        targets: Labels ``[N]`` (``-1`` where unknown).
        pad_id: The tokenizer's padding id.
    """

    def __init__(self, input_ids: list[list[int]], targets: np.ndarray, pad_id: int) -> None:
        self.input_ids = input_ids
        self.targets = targets
        self.pad_id = pad_id

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[list[int], int]:
        return self.input_ids[i], int(self.targets[i])

    def collate(self, items: list[tuple[list[int], int]]) -> tuple[TokenBatch, torch.Tensor]:
        ids = [ids for ids, _ in items]
        batch = pad_token_ids(ids, self.pad_id)
        return batch, torch.tensor([y for _, y in items], dtype=torch.long)


def tokenized_dataset(texts: list[str], targets: np.ndarray, spec: InputSpec) -> TokenizedText:
    """Tokenise ``texts`` once with the model's tokenizer, truncated to ``spec.max_length``."""
    if spec.tokenizer is None:
        raise ConfigError("tokenized_dataset needs a text InputSpec with a tokenizer.")
    tokenizer = load_tokenizer(spec.tokenizer)
    encoded = tokenizer(list(texts), truncation=spec.max_length is not None, max_length=spec.max_length,
                        padding=False, return_attention_mask=False)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return TokenizedText([list(ids) for ids in encoded["input_ids"]], targets, int(pad_id))
