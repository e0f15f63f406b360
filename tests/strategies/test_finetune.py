"""finetune: top-k groups, freeze→unfreeze, layer-wise LR decay, LP-FT and frozen batch norm."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from graft.data import DataSource, from_arrays
from graft.engine.param_groups import layer_scales
from graft.errors import ConfigError
from graft.models import DataInfo, ModelOptions, build_model
from graft.strategies.finetune import Finetune, FinetuneConfig, parse_trainable
from graft.strategies.linear_probe import LinearProbeConfig, fit_probe_head


def _group_states(model: nn.Module) -> list[dict[str, torch.Tensor]]:
    return [{n: p.detach().clone() for n, p in group} for group in model.layer_groups()]


def _changed(before: dict[str, torch.Tensor], model: nn.Module) -> bool:
    now = dict(model.named_parameters())
    return any(not torch.equal(before[n].cpu(), now[n].detach().cpu()) for n in before)


def test_trainable_last_1_leaves_earlier_groups_unchanged(blobs_source: DataSource, make_setup: Callable) -> None:
    setup = make_setup(blobs_source, "finetune", lr=1e-2, warmup_epochs=0.0)
    model = setup.ctx.model
    before = _group_states(model)
    Finetune(FinetuneConfig(trainable="last-1", lp_init=False)).fit(setup.ctx)
    assert [_changed(b, model) for b in before] == [False, True, True]  # stem, last hidden, head


def test_trainable_last_0_trains_only_the_head(blobs_source: DataSource, make_setup: Callable) -> None:
    setup = make_setup(blobs_source, "finetune", lr=1e-2, warmup_epochs=0.0)
    before = _group_states(setup.ctx.model)
    Finetune(FinetuneConfig(trainable="last-0", lp_init=False)).fit(setup.ctx)
    assert [_changed(b, setup.ctx.model) for b in before] == [False, False, True]


def test_all_trains_every_group(blobs_source: DataSource, make_setup: Callable) -> None:
    setup = make_setup(blobs_source, "finetune", lr=1e-2, warmup_epochs=0.0)
    before = _group_states(setup.ctx.model)
    Finetune(FinetuneConfig(trainable="all", lp_init=False)).fit(setup.ctx)
    assert all(_changed(b, setup.ctx.model) for b in before)


@pytest.mark.parametrize(("epochs", "backbone_moves"), [(1, False), (2, False), (3, True)])
def test_unfreeze_at_keeps_the_backbone_frozen_until_that_epoch(
    epochs: int, backbone_moves: bool, blobs_source: DataSource, make_setup: Callable, snapshot: Callable
) -> None:
    setup = make_setup(blobs_source, "finetune", epochs=epochs, lr=1e-2, warmup_epochs=0.0, schedule="constant")
    model = setup.ctx.model
    Finetune(FinetuneConfig(unfreeze_at=2, lp_init=False)).prepare(setup.ctx)
    assert not any(p.requires_grad for p in model.backbone.parameters())

    setup = make_setup(blobs_source, "finetune", epochs=epochs, lr=1e-2, warmup_epochs=0.0, schedule="constant")
    model = setup.ctx.model
    backbone, head = snapshot(model.backbone), snapshot(model.head)
    Finetune(FinetuneConfig(unfreeze_at=2, lp_init=False)).fit(setup.ctx)
    model.cpu()  # where it trained (a GPU when one is visible): compared on the CPU
    after = model.backbone.state_dict()
    assert any(not torch.equal(backbone[k], after[k]) for k in backbone) == backbone_moves
    assert not torch.equal(head["weight"], model.head.weight.detach())
    assert all(p.requires_grad for p in model.parameters()) == backbone_moves


def test_every_optimizer_group_exists_from_the_start(blobs_source: DataSource, make_setup: Callable) -> None:
    setup = make_setup(blobs_source, "finetune")
    strategy = Finetune(FinetuneConfig(unfreeze_at=2, trainable="last-1", lp_init=False, layer_decay=0.5,
                                       head_lr_scale=4.0))
    strategy.prepare(setup.ctx)
    groups = strategy.param_groups(setup.ctx)
    assert {id(p) for g in groups for p in g["params"]} == {id(p) for p in setup.ctx.model.parameters()}
    assert sorted({(g["layer"], g["lr_scale"]) for g in groups}) == list(enumerate(layer_scales(3, 0.5, 4.0)))


def test_lp_init_gives_the_head_probe_weights_before_training(blobs_source: DataSource, make_setup: Callable) -> None:
    setup = make_setup(blobs_source, "finetune")
    model = setup.ctx.model
    reference = copy.deepcopy(model)
    fit_probe_head(reference, setup.ctx.labeled_plain(), setup.ctx.val, LinearProbeConfig(), seed=0)
    nn.init.zeros_(model.head.weight)
    Finetune(FinetuneConfig(lp_init=True)).prepare(setup.ctx)
    assert model.head.weight.abs().sum() > 0
    assert torch.allclose(model.head.weight.cpu(), reference.head.weight.cpu())
    assert torch.allclose(model.head.bias.cpu(), reference.head.bias.cpu())
    assert setup.test_accuracy() > 0.8  # the warm-started head already classifies

    plain = make_setup(blobs_source, "finetune")
    nn.init.zeros_(plain.ctx.model.head.weight)
    Finetune(FinetuneConfig(lp_init=False)).prepare(plain.ctx)
    assert plain.ctx.model.head.weight.abs().sum() == 0


@pytest.mark.parametrize("freeze_bn", [True, False])
def test_freeze_bn_keeps_running_statistics(freeze_bn: bool, make_setup: Callable, snapshot: Callable) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 16)
    x = (rng.uniform(size=(32, 32, 32, 3)) * 0.5 + y[:, None, None, None] * 0.5).astype(np.float32)
    source = from_arrays(x, y, classes=["dark", "light"])
    torch.manual_seed(0)
    model = build_model("timm:test_resnet", DataInfo.from_source(source),
                        ModelOptions(pretrained=False, image_size=32))
    setup = make_setup(source, "finetune", model=model, epochs=1, augment="none")
    before = {k: v for k, v in snapshot(model.backbone).items() if "running" in k}
    assert before
    Finetune(FinetuneConfig(freeze_bn=freeze_bn, lp_init=False)).fit(setup.ctx)
    after = model.cpu().backbone.state_dict()
    unchanged = all(torch.equal(before[k], after[k]) for k in before)
    assert unchanged == freeze_bn
    assert any(p.requires_grad for p in model.backbone.parameters())  # frozen statistics, trained weights


def test_invalid_options_are_config_errors(blobs_source: DataSource, make_setup: Callable) -> None:
    with pytest.raises(ConfigError, match="'--layer-decay' option of strategy 'finetune' must be in \\(0, 1\\]. Got 1.5"):
        Finetune(FinetuneConfig(layer_decay=1.5, lp_init=False)).prepare(make_setup(blobs_source, "finetune").ctx)
    with pytest.raises(ConfigError, match="'all' or 'last-N'.*Got 'top-2'"):
        parse_trainable("top-2")
    assert parse_trainable("all") is None and parse_trainable("last-3") == 3


def test_an_epoch_as_accurate_as_the_probe_with_a_much_lower_loss_replaces_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every validation row is right from the probe start on, so accuracy cannot clear the start;
    # fine-tuning lowers the paired per-example loss far beyond the margin, and that route does.
    import graft
    from tests.conftest import blobs

    # Every epoch is perfect on validation here for seeds 0–2 (at noise 2.0 and lr 1e-2 some epochs miss an
    # example, and a GPU's run kept the start: the premise failed, not the rule).
    x, y = blobs(n_per_class=40, noise=1.5)
    np.savez(tmp_path / "b.npz", X=x, y=y)
    options = {"epochs": 6, "lr": 3e-3, "label_smoothing": 0.0, "val_fraction": 0.2, "progress": False}
    runs = {}
    for route in (True, False):
        monkeypatch.setattr(Finetune, "loss_clears_start", route)
        runs[route] = graft.fit("builtin:mlp", f"npz:{tmp_path / 'b.npz'}", "finetune", out=tmp_path / str(route),
                                **options)
    start = runs[True].history[0]
    chosen = runs[True].metrics["selected_epoch"]
    assert runs[False].metrics["selected_epoch"] == 0
    assert chosen > 0, runs[True].history
    assert start["val_accuracy"] == 1.0  # the accuracy route cannot clear a perfect start
    assert runs[True].history[chosen]["val_accuracy"] == 1.0
    assert runs[True].history[chosen]["val_loss"] < 0.6 * start["val_loss"]
