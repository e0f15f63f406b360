"""Evaluation loops: ordered predictions, unknown labels ignored, modes restored."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from graft.data import DataSource, from_arrays, make_dataset
from graft.data.pipeline import TableDataset
from graft.engine.evaluate import evaluate, predict_logits
from graft.models import GraftModel


def test_predict_logits_is_ordered_and_restores_training_mode(blobs_source: DataSource,
                                                               make_mlp: Callable[..., GraftModel]) -> None:
    model = make_mlp(blobs_source)
    data = make_dataset(blobs_source, np.arange(len(blobs_source)), model.spec.input)
    model.train()
    logits, y, feats = predict_logits(model, data, batch_size=7, return_features=True)
    assert model.training
    model.eval()
    with torch.no_grad():
        expected_logits, expected_feats = model(data.features, return_features=True)
    assert torch.allclose(logits, expected_logits, atol=1e-6)
    assert torch.allclose(feats, expected_feats, atol=1e-6)
    assert torch.equal(y, torch.as_tensor(blobs_source.y))


def test_evaluate_ignores_unknown_labels(make_blobs: Callable, make_mlp: Callable[..., GraftModel]) -> None:
    x, y = make_blobs(n_per_class=4)
    labels = y.astype(float)
    labels[::2] = np.nan  # unknown → -1
    source = from_arrays(x, labels, classes=["a", "b", "c"])
    model = make_mlp(source)
    data = make_dataset(source, np.arange(len(source)), model.spec.input)
    out = evaluate(model, data, 4, "cpu", prefix="val_")
    with torch.no_grad():
        logits = model.eval()(torch.from_numpy(x[1::2]))
    known = torch.from_numpy(y[1::2])
    assert out["val_accuracy"] == pytest.approx((logits.argmax(1) == known).float().mean().item())
    assert out["val_loss"] == pytest.approx(F.cross_entropy(logits, known).item(), rel=1e-5)

    unlabeled = TableDataset(torch.from_numpy(x), np.full(len(x), -1))
    assert evaluate(model, unlabeled, 4, "cpu") == {}
