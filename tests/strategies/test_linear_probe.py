"""linear-probe: a frozen backbone and a head fitted on cached features."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import graft
from graft.data import DataSource
from graft.engine.features import extract_features
from graft.errors import ConfigError
from graft.strategies.linear_probe import C_GRID, HEADS, LinearProbe, LinearProbeConfig


@pytest.fixture
def noisy(make_source: Callable[..., DataSource]) -> DataSource:
    """Overlapping classes, so heads disagree where they may and chance is far below."""
    return make_source("noisy", n_per_class=60, noise=2.5, spread=1.5)


def _fit(setup: object, **options: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn convergence warnings on tiny data
        result = LinearProbe(LinearProbeConfig(**options)).fit(setup.ctx)  # type: ignore[attr-defined]
        setup.ctx.model.cpu()  # type: ignore[attr-defined]  # trained on a GPU when one is visible
        return result


def test_only_the_head_trains(blobs_source: DataSource, make_setup: Callable, snapshot: Callable) -> None:
    setup = make_setup(blobs_source, "linear-probe")
    model = setup.ctx.model
    backbone_before, head_before = snapshot(model.backbone), snapshot(model.head)
    result = _fit(setup)
    after = model.backbone.state_dict()
    assert all(torch.equal(backbone_before[k], after[k]) for k in backbone_before)
    assert not torch.equal(head_before["weight"], model.head.weight)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    best = max(result.history, key=lambda r: r["val_accuracy"])
    assert result.epochs_run == len(result.history) and result.best_epoch == best["epoch"]
    assert result.selected_by == "val"
    assert [row["C"] for row in result.history] == list(C_GRID)
    assert result.best_value == max(row["val_accuracy"] for row in result.history)


@pytest.mark.parametrize("head", HEADS)
def test_every_head_beats_chance(head: str, noisy: DataSource, make_setup: Callable) -> None:
    setup = make_setup(noisy, "linear-probe")
    _fit(setup, head=head)
    assert setup.test_accuracy() > 1 / 3 + 0.2


def test_without_validation_c_is_one(blobs_source: DataSource, make_setup: Callable) -> None:
    setup = make_setup(blobs_source, "linear-probe", val=False)
    result = _fit(setup)
    assert [row["C"] for row in result.history] == [1.0]
    assert result.selected_by == "last" and result.best_value is None


def test_torch_logreg_matches_scikit_learn(noisy: DataSource, make_setup: Callable) -> None:
    from sklearn.linear_model import LogisticRegression

    setup = make_setup(noisy, "linear-probe")
    model = setup.ctx.model
    _fit(setup, head="torch", C=0.5)
    # scikit-learn on the same centred, globally scaled features the probe uses.
    f_train, y_train = extract_features(model.backbone, setup.ctx.train)
    mu = f_train.mean(0)
    sigma = (f_train - mu).std().clamp_min(1e-6)
    reference = LogisticRegression(C=0.5, max_iter=5000, tol=1e-8).fit(((f_train - mu) / sigma).numpy(), y_train.numpy())

    with torch.no_grad():
        f_test = model.backbone.eval()(setup.test_x)
        probs = torch.softmax(model.head(f_test), 1).numpy()
    z_test = ((f_test - mu) / sigma).numpy()
    agreement = (probs.argmax(1) == reference.predict(z_test)).mean()
    assert agreement > 0.95
    assert np.abs(probs - reference.predict_proba(z_test)).max() < 0.02


def test_binary_svm_head_follows_the_decision_function(make_source: Callable[..., DataSource],
                                                        make_setup: Callable) -> None:
    from sklearn.svm import LinearSVC

    source = make_source("two", n_per_class=40, n_classes=2, noise=2.0, spread=1.0)
    setup = make_setup(source, "linear-probe")
    _fit(setup, head="svm", C=1.0)
    model = setup.ctx.model
    f_train, y_train = extract_features(model.backbone, setup.ctx.train)
    mu = f_train.mean(0)
    sigma = (f_train - mu).std().clamp_min(1e-6)
    svm = LinearSVC(C=1.0, max_iter=6000).fit(((f_train - mu) / sigma).numpy(), y_train.numpy())
    with torch.no_grad():
        f_test = model.backbone.eval()(setup.test_x)
        logits = model.head(f_test)
    decision = svm.decision_function(((f_test - mu) / sigma).numpy())
    assert np.allclose((logits[:, 1] - logits[:, 0]).numpy(), decision, atol=1e-3)


def test_unknown_head_is_a_config_error(blobs_source: DataSource, make_setup: Callable) -> None:
    with pytest.raises(ConfigError, match="'--head'.*torch, logreg, svm, mlp.*Got 'knn'"):
        _fit(make_setup(blobs_source, "linear-probe"), head="knn")


def test_mlp_head_run_is_saved_and_reloaded(tmp_path: Path, blobs_npz: Path) -> None:
    """A non-linear head survives save/load (``run:DIR`` and ``graft predict``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "linear-probe", out=tmp_path, head="mlp",
                        mlp_hidden=16, C=1.0, max_iter=100, progress=False)
    loaded = graft.load_run(tmp_path)
    assert list(loaded.predict(f"npz:{blobs_npz}")["prediction"]) == list(run.predict(f"npz:{blobs_npz}")["prediction"])


def test_probe_head_is_a_plain_linear_for_linear_heads(blobs_source: DataSource, make_setup: Callable) -> None:
    for head in ("torch", "logreg", "svm"):
        setup = make_setup(blobs_source, "linear-probe")
        _fit(setup, head=head)
        assert type(setup.ctx.model.head) is nn.Linear
