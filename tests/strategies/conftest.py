"""Fixtures for strategy tests: a FitContext over tiny data, without the API's reporting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from graft.data import DataSource, make_dataset, make_splits
from graft.engine.config import TrainConfig
from graft.models import GraftModel
from graft.options import build_config
from graft.strategies import STRATEGIES, FitContext


@dataclass
class Setup:
    """A context ready for ``Strategy.fit`` and a held-out test set."""

    ctx: FitContext
    test_x: torch.Tensor
    test_y: torch.Tensor

    def test_accuracy(self) -> float:
        with torch.no_grad():
            logits = self.ctx.model.cpu().eval()(self.test_x)
        return float((logits.argmax(1) == self.test_y).float().mean())


@pytest.fixture
def make_setup(make_mlp: Callable[..., GraftModel]) -> Callable[..., Setup]:
    """``make_setup(source, strategy, model=None, **train_options)``: engine options get
    the strategy's defaults, then small-run overrides, then ``train_options``."""

    def build(source: DataSource, strategy: str, model: GraftModel | None = None, *,
              val: bool = True, **train_options: Any) -> Setup:
        model = model if model is not None else make_mlp(source)
        splits = make_splits(source, test_fraction=0.3, val_fraction=0.2 if val else 0.0)
        spec = model.spec.input
        options = {**STRATEGIES.get(strategy).train_defaults, "epochs": 3, "batch_size": 16,
                   "progress": False, **train_options}
        ctx = FitContext(
            model=model,
            train=make_dataset(source, splits.train, spec),
            val=make_dataset(source, splits.val, spec) if len(splits.val) else None,
            train_config=build_config(TrainConfig, options, "test"),
            seed=0,
        )
        test = make_dataset(source, splits.test, spec)
        xs = torch.stack([test[i][0] for i in range(len(test))])
        return Setup(ctx, xs, torch.as_tensor(np.asarray(test.targets)))

    return build
