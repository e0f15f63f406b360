"""Frozen-backbone features, computed once per (weights, data) and cached.

The cache is what makes linear probes fast: a frozen backbone is never run per
epoch. It lives in memory for the process (``graft compare`` reuses it across
strategies and seeds) keyed by a fingerprint of the weights and the data.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from graft.data.base import dataset_size
from graft.engine.evaluate import input_dtype, module_device, move_to

_CACHE: OrderedDict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
_CACHE_SIZE = 16


def fingerprint_module(module: nn.Module) -> str:
    """Hash of a module's weights and buffers, its class, and the plain settings of its
    submodules (a text encoder's ``pooling``): the same weights pooled another way give
    other features, and must not share a cache entry."""
    h = hashlib.sha1(type(module).__qualname__.encode())
    for prefix, sub in module.named_modules():
        for key, value in sorted(vars(sub).items()):
            if not key.startswith("_") and key != "training" and isinstance(value, (str, int, float, bool)):
                h.update(f"{prefix}.{key}={value!r};".encode())
    for name, t in module.state_dict().items():
        h.update(name.encode())
        t = t.detach().cpu()  # numpy has no bfloat16
        h.update((t.float() if t.dtype == torch.bfloat16 else t).contiguous().view(-1).numpy().tobytes())
    return h.hexdigest()


def fingerprint_data(data: Dataset) -> str:
    """Hash of the arrays a data set holds, or of its items when it holds none."""
    h = hashlib.sha1(type(data).__qualname__.encode())
    attrs = vars(data).values()
    arrays = [v for v in attrs if torch.is_tensor(v) or isinstance(v, np.ndarray)]
    for v in attrs:  # texts and other plain sequences
        if isinstance(v, (list, tuple, str)):
            h.update(repr(v).encode())
    if arrays:
        for a in arrays:
            arr = a.detach().cpu().numpy() if torch.is_tensor(a) else a
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
    else:
        h.update(str(dataset_size(data)).encode())
        for i in range(dataset_size(data)):
            x, y = data[i]
            h.update(repr(y).encode())
            h.update(x.numpy().tobytes() if torch.is_tensor(x) else repr(x).encode())
    return h.hexdigest()


@torch.no_grad()
def extract_features(
    backbone: nn.Module, data: Dataset, *, batch_size: int = 256, device: Any = None,
    cache: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features ``[N, D]`` (on the CPU) and labels ``[N]`` of ``data`` through a frozen ``backbone``.

    The backbone runs in eval mode (no dropout, running batch-norm statistics), on ``device`` (it is
    moved there) or, with None, wherever its weights already are.
    """
    key = (fingerprint_module(backbone), fingerprint_data(data)) if cache else None
    if key is not None and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    was_training = backbone.training
    backbone.eval()
    if device is None:
        device = module_device(backbone)
    else:
        backbone.to(device)
    feats, labels = [], []
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=getattr(data, "collate", None))
    dtype = input_dtype(backbone)
    for x, y in loader:
        x = move_to(x, device, dtype)
        feats.append(backbone(x).float().cpu())
        labels.append(torch.as_tensor(y))
    backbone.train(was_training)
    out = (torch.cat(feats), torch.cat(labels))
    if key is not None:
        _CACHE[key] = out
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return out


def clear_feature_cache() -> None:
    """Forget every cached feature matrix."""
    _CACHE.clear()
