"""scratch: the same architecture with fresh weights, seeded."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from graft.data import DataSource
from graft.models import DataInfo, ModelOptions, build_model
from graft.strategies.scratch import Scratch, ScratchConfig, reinitialise


def _pretend_pretrained(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.fill_(0.01 * (i + 1))
            p.requires_grad_(False)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_prepare_reinitialises_every_weight_and_unfreezes(blobs_source: DataSource, make_setup: Callable) -> None:
    setup = make_setup(blobs_source, "scratch")
    model = setup.ctx.model
    pretrained = _pretend_pretrained(model)
    Scratch(ScratchConfig()).prepare(setup.ctx)
    now = model.state_dict()
    assert all(not torch.equal(pretrained[k], now[k]) for k in pretrained)
    assert all(p.requires_grad for p in model.parameters())


def test_fresh_weights_depend_on_the_seed_only(blobs_source: DataSource, make_setup: Callable) -> None:
    states = []
    for seed in (0, 0, 1):
        setup = make_setup(blobs_source, "scratch")
        _pretend_pretrained(setup.ctx.model)
        setup.ctx.seed = seed
        torch.manual_seed(1000 + len(states))  # the global RNG state must not matter
        Scratch().prepare(setup.ctx)
        states.append(setup.ctx.model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not torch.equal(states[0]["head.weight"], states[2]["head.weight"])


def test_batch_norm_statistics_are_reset() -> None:
    info = DataInfo(kind="image", num_classes=3, classes=["a", "b", "c"], channels=3, size=(32, 32))
    model = build_model("timm:test_resnet", info, ModelOptions(pretrained=False, image_size=32))
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.running_mean.fill_(5.0)
        bn.running_var.fill_(9.0)
    assert reinitialise(model) > 0
    assert all(torch.all(bn.running_mean == 0) and torch.all(bn.running_var == 1) for bn in bns)


def test_scratch_learns_the_task(blobs_source: DataSource, make_setup: Callable) -> None:
    setup = make_setup(blobs_source, "scratch", epochs=6, lr=1e-2)
    result = Scratch().fit(setup.ctx)
    assert result.epochs_run == 6 and result.selected_by == "val"
    assert setup.test_accuracy() > 0.8


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_label_smoothing_is_applied(smoothing: float, blobs_source: DataSource, make_setup: Callable) -> None:
    setup = make_setup(blobs_source, "scratch")
    model = setup.ctx.model
    x, y = setup.test_x, setup.test_y
    out = Scratch(ScratchConfig(label_smoothing=smoothing)).step(model, {"x": x, "y": y})
    expected = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=smoothing)
    assert out["loss"].item() == pytest.approx(expected.item())
