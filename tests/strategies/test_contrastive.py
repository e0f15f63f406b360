"""contrastive: pair losses pull a class together; the strategy tunes the backbone on text and
images (one label per class for images), refits the head on the tuned features, and refuses
text classes with a single example."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import graft
from graft.errors import ConfigError
from graft.losses import pair_cosine_loss, supervised_contrastive_loss


@pytest.mark.parametrize("loss", [pair_cosine_loss, supervised_contrastive_loss])
def test_a_step_on_the_loss_pulls_a_class_together(loss) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    e = torch.randn(8, 4, requires_grad=True)
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])

    def gap() -> float:  # mean same-class minus mean other-class cosine similarity
        z = torch.nn.functional.normalize(e.detach(), dim=1)
        s = z @ z.T
        same = (y[:, None] == y[None]) & ~torch.eye(8, dtype=torch.bool)
        return float(s[same].mean() - s[y[:, None] != y[None]].mean())

    before = gap()
    opt = torch.optim.SGD([e], lr=0.5)
    for _ in range(100):
        opt.zero_grad()
        loss(e, y).backward()
        opt.step()
    assert gap() > before + 0.4


def test_losses_are_zero_without_a_same_class_pair() -> None:
    e = torch.randn(3, 4, requires_grad=True)
    y = torch.tensor([0, 1, 2])
    for loss in (pair_cosine_loss(e, y), supervised_contrastive_loss(e, y)):
        assert float(loss) == 0.0
        loss.backward()  # still part of the graph


def test_contrastive_tunes_a_text_encoder(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "contrastive", text_column="review",
                    labels_per_class=6, out=tmp_path / "c", epochs=6, lr=0.05, progress=False)
    m = run.metrics
    assert m["test_accuracy"] > 0.7, m
    history = run.history
    assert history[0]["epoch"] == 0  # the probe on the untouched encoder competes
    losses = [r["train_loss"] for r in history if r["epoch"] > 0]
    assert losses[-1] < losses[0]
    # the head is not trained by gradient: only the backbone counts as trainable
    assert m["trainable_params"] < m["total_params"]
    assert "steps_per_epoch" not in m  # text: an epoch is one pass (a repeated batch repeats its pairs)


def test_contrastive_on_images_with_one_label_per_class(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    x = rng.integers(0, 60, size=(60, 12, 12, 1)).astype(np.uint8)
    x[y == 1, 3:9, 3:9] = 250  # a bright square tells class 1
    run = graft.fit("builtin:lenet", (x, y), "contrastive", labels_per_class=1, out=tmp_path / "img",
                    image_size=16, epochs=3, lr=1e-3, progress=False, test_fraction=0.5)
    assert run.metrics["n_train_labeled"] == 2 and run.metrics["test_accuracy"] >= 0.7
    # two labeled images are one step a pass; an epoch takes 50, each with new random second views
    assert run.metrics["steps_per_epoch"] == 50
    frame = graft.load_run(tmp_path / "img").predict(x)
    assert len(frame) == 60


@pytest.mark.parametrize(("given", "steps"), [({"min_epoch_steps": 4}, 4), ({"steps_per_epoch": 3}, None)])
def test_the_least_steps_an_epoch_takes_is_an_option(tmp_path: Path, given: dict[str, int],
                                                     steps: int | None) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, size=(40, 12, 12, 1)).astype(np.uint8), np.repeat([0, 1], 20)
    run = graft.fit("builtin:lenet", (x, y), "contrastive", labels_per_class=2, out=tmp_path / "s",
                    image_size=16, epochs=1, progress=False, **given)
    assert run.metrics.get("steps_per_epoch") == steps  # --steps-per-epoch, when given, rules


def test_one_text_example_in_a_class_is_refused_with_the_count_needed(
    tiny_bert: Path, sentiment_csv: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="at least 2 labeled examples in every class.*--labels-per-class 2"):
        graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "contrastive", text_column="review",
                  labels_per_class=1, out=tmp_path / "one", epochs=1, progress=False)


def test_the_refusal_comes_before_the_run_directory_is_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 4)), np.repeat([0, 1, 2], 20)
    with pytest.raises(ConfigError, match="at least 2 labeled examples"):
        graft.fit("builtin:mlp", (x, y), "contrastive", labels_per_class=1, out=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_without_validation_the_shipped_head_fits_the_tuned_features() -> None:
    import copy

    from torch.utils.data import TensorDataset

    from graft.engine.config import TrainConfig
    from graft.strategies import FitContext
    from graft.strategies.contrastive import Contrastive
    from graft.strategies.linear_probe import LinearProbeConfig, fit_head_on_features
    from tests.conftest import blobs, table_source, tiny_mlp

    x, y = blobs(20)
    model = tiny_mlp(table_source())
    train = TensorDataset(torch.tensor(x), torch.tensor(y))
    ctx = FitContext(model=model, train=train, val=None,
                     train_config=TrainConfig(epochs=3, lr=1e-2, batch_size=16, progress=False))
    start = copy.deepcopy(model.backbone.state_dict())
    Contrastive().fit(ctx)
    model.cpu()  # where it trained (a GPU when one is visible): checked on the CPU
    assert any(not torch.equal(start[k], v) for k, v in model.backbone.state_dict().items())  # tuned
    with torch.no_grad():
        feats = model.backbone.eval()(torch.tensor(x))
        shipped = model.head(feats)
    refit = copy.deepcopy(model)
    fit_head_on_features(refit, feats, torch.tensor(y), None, None, LinearProbeConfig())
    with torch.no_grad():
        assert torch.allclose(shipped, refit.head(feats), atol=1e-3)  # 1e-4 apart when the run trained on a GPU


def test_the_epoch_floor_counts_the_steps_of_each_ddp_rank() -> None:
    from types import SimpleNamespace

    from graft.engine.config import TrainConfig
    from graft.strategies.contrastive import Contrastive, ContrastiveConfig

    strategy = Contrastive(ContrastiveConfig(min_epoch_steps=5))
    image_model = SimpleNamespace(spec=SimpleNamespace(input=SimpleNamespace(kind="image")))
    ctx = SimpleNamespace(train=list(range(160)), model=image_model)
    ctx.train_config = TrainConfig(batch_size=16)
    assert strategy._epoch_steps(ctx) is None  # one pass is 10 steps: more than the floor
    ctx.train_config = TrainConfig(batch_size=16, devices="4", accelerator="cpu")
    assert strategy._epoch_steps(ctx) == 5  # each of 4 ranks passes over 40 examples in 3 steps
