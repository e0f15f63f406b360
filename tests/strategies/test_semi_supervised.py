"""semi-supervised: the unlabeled rest of the split is a second stream that trains the model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import graft
from graft.errors import ConfigError

QUIET = {"epochs": 4, "lr": 1e-2, "batch_size": 16, "progress": False, "threshold": 0.6}


def test_the_unlabeled_rest_is_pseudo_labelled(blobs_npz: Path, tmp_path: Path) -> None:
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="semi-supervised", labels_per_class=3,
                    out=tmp_path / "r", **QUIET)
    assert run.metrics["n_train_labeled"] == 9 and run.metrics["test_accuracy"] > 0.6
    trained = [row for row in run.history if row["epoch"] > 0]
    assert max(row["train_mask_rate"] for row in trained) > 0  # confident unlabeled rows did train
    # an epoch is one pass over the larger stream: the unlabeled rest, not the 9 labels
    assert len(trained) == 4 and run.metrics["epochs_run"] == 4


def test_without_unlabeled_rows_it_says_how_to_get_them(blobs_npz: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="every training example is labeled and no --unlabeled.*--labels-per-class K"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="semi-supervised", out=tmp_path / "r", **QUIET)


def test_the_strong_text_view_hides_tokens_but_never_the_first() -> None:
    import torch

    from graft.strategies.pseudo_labels import PseudoLabelOptions, drop_tokens, weak_strong_views

    torch.manual_seed(0)
    batch = {"input_ids": torch.ones(64, 20, dtype=torch.long), "attention_mask": torch.ones(64, 20, dtype=torch.long)}
    batch["attention_mask"][:, 15:] = 0  # padding stays padding
    weak, strong = weak_strong_views(batch, PseudoLabelOptions(token_dropout=0.3))
    assert weak is batch and torch.equal(strong["input_ids"], batch["input_ids"])
    kept = strong["attention_mask"]
    assert kept[:, 0].all() and not kept[:, 15:].any()
    assert 0.6 < kept[:, 1:15].float().mean() < 0.8
    assert drop_tokens(batch, 0.0) is batch


def test_semi_supervised_on_text(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "semi-supervised", text_column="review",
                    labels_per_class=6, out=tmp_path / "t", epochs=4, batch_size=16, lr=5e-2, threshold=0.6,
                    progress=False)
    assert run.metrics["test_accuracy"] > 0.7, run.metrics
    assert any(row.get("train_mask_rate", 0) > 0 for row in run.history)


def test_extra_unlabeled_data_joins_the_unlabeled_stream(blobs_npz: Path, tmp_path: Path) -> None:
    import numpy as np

    from tests.conftest import blobs

    x_extra, _ = blobs(40, seed=7)
    np.savez(tmp_path / "extra.npz", X=x_extra)  # no labels
    run = graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="semi-supervised", unlabeled=f"npz:{tmp_path / 'extra.npz'}",
                    out=tmp_path / "r", **QUIET)  # every training example labeled: the extra data is the stream
    assert run.metrics["test_accuracy"] > 0.6
    assert max(row["train_mask_rate"] for row in run.history if row["epoch"] > 0) > 0


def test_unlabeled_data_for_a_strategy_that_cannot_use_it_is_refused(blobs_npz: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'finetune' does not learn from unlabeled examples.*semi-supervised"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", strategy="finetune", unlabeled=f"npz:{blobs_npz}",
                  out=tmp_path / "r", progress=False)


def test_distribution_alignment_pulls_a_biased_model_toward_the_target_shares() -> None:
    import torch

    from graft.strategies.pseudo_labels import DistributionAlignment

    align = DistributionAlignment(torch.tensor([0.5, 0.5]), momentum=0.0)  # the mean is the batch's
    probs = torch.tensor([[0.9, 0.1], [0.7, 0.3], [0.8, 0.2], [0.6, 0.4]])  # the model favours class 0
    aligned = align(probs)
    assert torch.allclose(aligned.sum(1), torch.ones(4))
    assert torch.allclose(aligned.mean(0), torch.tensor([0.5, 0.5]), atol=0.08)  # was 0.75 / 0.25
    assert (aligned.argmax(1) == torch.tensor([0, 1, 0, 1])).all()  # the two least sure rows flip
    skewed = DistributionAlignment(torch.tensor([3.0, 1.0]), momentum=0.0)(torch.full((4, 2), 0.5))
    assert torch.allclose(skewed, torch.tensor([0.75, 0.25]).expand(4, 2))  # target shares, normalised


def test_an_interrupted_run_resumes_with_its_running_class_mean(blobs_npz: Path, tmp_path: Path,
                                                                 fit_interrupted: Callable[..., None]) -> None:
    import torch

    options = {**QUIET, "labels_per_class": 3, "checkpoint_every": 0}
    full = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "semi-supervised", out=tmp_path / "full", **options)
    fit_interrupted("builtin:mlp", f"npz:{blobs_npz}", "semi-supervised", out=tmp_path / "cut", **options)
    mean = torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=True)["module"]["extras.prior.mean"]
    assert torch.isclose(mean.sum(), torch.tensor(1.0)) and not torch.allclose(mean, torch.full_like(mean, 1 / 3))
    resumed = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "semi-supervised", out=tmp_path / "cut", resume=True,
                        **options)
    assert resumed.metrics["test_accuracy"] == full.metrics["test_accuracy"]
    assert [r.get("train_mask_rate") for r in resumed.history] == [r.get("train_mask_rate") for r in full.history]
    off = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "semi-supervised", out=tmp_path / "off",
                    distribution_alignment=False, **options)
    assert [r.get("train_mask_rate") for r in off.history] != [r.get("train_mask_rate") for r in full.history]


def test_image_models_train_50_epochs_unless_told(blobs_npz: Path, tmp_path: Path) -> None:
    import numpy as np

    from graft.strategies import STRATEGIES

    cls = STRATEGIES.get("semi-supervised")
    assert cls.train_defaults_for("image")["epochs"] == 50 and cls.train_defaults_for("table")["epochs"] == 30
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    x = rng.integers(0, 60, size=(40, 12, 12, 1)).astype(np.uint8)
    x[y == 1, 3:9, 3:9] = 250
    quick = {"batch_size": 8, "progress": False, "steps_per_epoch": 1}
    images = graft.fit("builtin:lenet", (x, y), "semi-supervised", labels_per_class=2, image_size=16,
                       out=tmp_path / "i", **quick)
    table = graft.fit("builtin:mlp", f"npz:{blobs_npz}", "semi-supervised", labels_per_class=3,
                      out=tmp_path / "t", **quick)
    assert images.metrics["epochs_run"] == 50 and table.metrics["epochs_run"] == 30
    given = graft.fit("builtin:lenet", (x, y), "semi-supervised", labels_per_class=2, image_size=16, epochs=3,
                      out=tmp_path / "g", **quick)
    assert given.metrics["epochs_run"] == 3
