"""The frozen-feature cache: computed once per (weights, data), never re-run per call."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from torch import nn

from graft.data import DataSource, make_dataset
from graft.engine.features import clear_feature_cache, extract_features, fingerprint_data, fingerprint_module
from graft.models import GraftModel


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    clear_feature_cache()
    yield
    clear_feature_cache()


class _Counter:
    """Counts forward calls of a module through a hook."""

    def __init__(self, module: nn.Module) -> None:
        self.calls = 0
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, *args: object) -> None:
        self.calls += 1


@pytest.fixture
def setup(blobs_source: DataSource, make_mlp: Callable[..., GraftModel]) -> tuple[GraftModel, object]:
    model = make_mlp(blobs_source)
    data = make_dataset(blobs_source, np.arange(len(blobs_source)), model.spec.input)
    return model, data


def test_second_call_returns_the_cached_tensors_without_a_forward(setup: tuple) -> None:
    model, data = setup
    counter = _Counter(model.backbone)
    feats, labels = extract_features(model.backbone, data, batch_size=32)
    assert counter.calls == -(-len(data) // 32)
    assert feats.shape == (len(data), model.spec.feature_dim)
    assert torch.equal(labels, torch.as_tensor(data.targets))
    again = extract_features(model.backbone, data, batch_size=32)
    assert again[0] is feats and again[1] is labels
    assert counter.calls == -(-len(data) // 32)


def test_an_equal_copy_of_model_and_data_hits_the_cache(setup: tuple, blobs_source: DataSource,
                                                         make_mlp: Callable[..., GraftModel]) -> None:
    model, data = setup
    feats, _ = extract_features(model.backbone, data)
    twin = make_mlp(blobs_source)  # same seed → same weights, another object
    twin_data = make_dataset(blobs_source, np.arange(len(blobs_source)), twin.spec.input)
    counter = _Counter(twin.backbone)
    assert extract_features(twin.backbone, twin_data)[0] is feats
    assert counter.calls == 0


def test_changed_weights_or_data_recompute(setup: tuple, blobs_source: DataSource) -> None:
    model, data = setup
    feats, _ = extract_features(model.backbone, data)
    counter = _Counter(model.backbone)
    subset = make_dataset(blobs_source, np.arange(10), model.spec.input)
    assert extract_features(model.backbone, subset)[0].shape[0] == 10
    assert counter.calls == 1
    with torch.no_grad():
        next(model.backbone.parameters()).add_(1.0)
    changed, _ = extract_features(model.backbone, data)
    assert counter.calls == 2
    assert changed is not feats and not torch.equal(changed, feats)


def test_cache_false_always_runs_the_backbone(setup: tuple) -> None:
    model, data = setup
    counter = _Counter(model.backbone)
    a, _ = extract_features(model.backbone, data, cache=False)
    b, _ = extract_features(model.backbone, data, cache=False)
    assert counter.calls == 2 and a is not b and torch.equal(a, b)


def test_features_come_from_eval_mode_and_the_mode_is_restored(blobs_source: DataSource,
                                                                make_mlp: Callable[..., GraftModel]) -> None:
    model = make_mlp(blobs_source)
    model.backbone.layers[2].p = 0.9  # heavy dropout: train-mode features would be random
    data = make_dataset(blobs_source, np.arange(len(blobs_source)), model.spec.input)
    model.backbone.train()
    feats, _ = extract_features(model.backbone, data, cache=False)
    assert model.backbone.training
    model.backbone.eval()
    with torch.no_grad():
        expected = model.backbone(data.features)
    assert torch.allclose(feats, expected)


def test_fingerprints_follow_content_not_identity(blobs_source: DataSource,
                                                  make_mlp: Callable[..., GraftModel]) -> None:
    a, b = make_mlp(blobs_source, seed=0), make_mlp(blobs_source, seed=0)
    assert fingerprint_module(a) == fingerprint_module(b)
    assert fingerprint_module(a) != fingerprint_module(make_mlp(blobs_source, seed=1))
    idx = np.arange(len(blobs_source))
    d1 = make_dataset(blobs_source, idx, a.spec.input)
    d2 = make_dataset(blobs_source, idx, a.spec.input)
    assert fingerprint_data(d1) == fingerprint_data(d2)
    assert fingerprint_data(d1) != fingerprint_data(make_dataset(blobs_source, idx[::-1], a.spec.input))


def test_linear_probe_runs_the_backbone_once_per_dataset(blobs_source: DataSource,
                                                         make_mlp: Callable[..., GraftModel]) -> None:
    from graft.strategies.linear_probe import LinearProbeConfig, fit_probe_head

    model = make_mlp(blobs_source)
    train = make_dataset(blobs_source, np.arange(0, 90, 2), model.spec.input)
    val = make_dataset(blobs_source, np.arange(1, 90, 2), model.spec.input)
    counter = _Counter(model.backbone)
    rows = fit_probe_head(model, train, val, LinearProbeConfig(), seed=0)
    assert len(rows) == 4  # the C grid is searched on the same cached features
    assert counter.calls == 2  # one batch of train, one of val
    fit_probe_head(model, train, val, LinearProbeConfig(C=1.0), seed=0)
    assert counter.calls == 2


class _TextLengths(nn.Module):
    """A toy text backbone: features are the length and the number of 'a's of each text."""

    def forward(self, texts: list[str]) -> torch.Tensor:
        return torch.tensor([[float(len(t)), float(t.count("a"))] for t in texts])


def test_text_sets_with_equal_labels_do_not_share_features() -> None:
    from graft.data.pipeline import TextDataset

    first = TextDataset(["a good film", "a bad one"], np.array([0, 1]))
    second = TextDataset(["great", "an awful, awful plot"], np.array([0, 1]))
    backbone = _TextLengths()
    extract_features(backbone, first)
    feats, _ = extract_features(backbone, second)
    assert torch.equal(feats, backbone(second.texts))


def test_fingerprint_tells_apart_the_same_weights_pooled_another_way(make_mlp, blobs_source) -> None:
    a, b = make_mlp(blobs_source), make_mlp(blobs_source)
    b.backbone.pooling = "cls"  # a plain setting, like a text encoder's pooling, changes the features
    assert fingerprint_module(a.backbone) != fingerprint_module(b.backbone)
