"""distill: teacher and student with their own inputs, the transfer set, caching, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import graft
from graft.data import from_arrays, load_source, make_dataset
from graft.data.base import InputSpec
from graft.data.paired import PairedViews, Views


@pytest.fixture(scope="module")
def hard_blobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four overlapping classes in 10 features as a CSV with string labels (a teacher needs data)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 10)) * 1.5
    y = np.repeat(np.arange(4), 60)
    x = centres[y] + rng.normal(size=(len(y), 10))
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(10)])
    frame["label"] = np.array(["ant", "bee", "cat", "dog"])[y]
    path = tmp_path_factory.mktemp("distill") / "blobs.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def table_teacher(hard_blobs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("teacher") / "run"
    graft.fit("builtin:mlp", f"csv:{hard_blobs}", "scratch", out=out, epochs=30, lr=1e-2, progress=False)
    return out


def test_views_of_one_example_share_the_augmentation() -> None:
    digits = load_source("builtin:digits")
    idx = np.arange(8)
    small = InputSpec("image", channels=1, size=(28, 28), mean=(0.5,), std=(0.5,))
    large = InputSpec("image", channels=1, size=(56, 56), mean=(0.5,), std=(0.5,))
    same = PairedViews(make_dataset(digits, idx, small, augment="light"), make_dataset(digits, idx, small, augment="light"))
    torch.manual_seed(0)
    (views, _), (again, _) = same[3], same[3]
    assert torch.equal(views.student, views.teacher)  # one draw, one transform
    assert not torch.equal(views.student, again.student)  # and the draws differ per item
    # Another size: the same geometric transform, so the teacher's view shrunk back matches.
    sized = PairedViews(make_dataset(digits, idx, small, augment="light"), make_dataset(digits, idx, large, augment="light"))
    torch.manual_seed(1)
    v, _ = sized[5]
    shrunk = torch.nn.functional.interpolate(v.teacher[None], size=(28, 28), mode="area")[0]
    assert torch.corrcoef(torch.stack([shrunk.flatten(), v.student.flatten()]))[0, 1] > 0.9
    batch, _ = sized.collate([sized[i] for i in range(4)])
    assert isinstance(batch, Views) and batch.student.shape == (4, 1, 28, 28) and batch.teacher.shape == (4, 1, 56, 56)


def test_distill_on_a_table_learns_the_teacher_from_few_labels(hard_blobs: Path, table_teacher: Path,
                                                             tmp_path: Path) -> None:
    run = graft.fit("builtin:mlp", f"csv:{hard_blobs}", "distill", teacher=f"run:{table_teacher}",
                    labels_per_class=2, out=tmp_path / "student", epochs=15, lr=1e-2, mlp_width=8, mlp_depth=1, progress=False)
    m = run.metrics
    assert m["teacher_cached"] is True  # tables are never augmented: the teacher ran once
    assert m["transfer_unlabeled"] >= 90 and m["n_train_labeled"] == 8
    assert m["test_accuracy"] > 0.75 and m["teacher_test_accuracy"] > 0.75
    assert m["macs"] < m["teacher_macs"] and m["params"] < m["teacher_params"]
    kd = [row["train_kd"] for row in run.history if "train_kd" in row]
    assert kd[-1] < kd[0]
    # The student is a plain model: new data without labels, columns reordered, predicts the same.
    frame = pd.read_csv(hard_blobs).drop(columns="label")
    same = run.predict(frame)
    moved = graft.load_run(tmp_path / "student").predict(frame[list(reversed(frame.columns))])
    assert (same["prediction"] == moved["prediction"]).all()


@pytest.mark.parametrize("kd_loss", ["dist", "kl-std"])
def test_modern_logit_losses_and_the_feature_loss_train(kd_loss: str, hard_blobs: Path, table_teacher: Path,
                                                        tmp_path: Path) -> None:
    run = graft.fit("builtin:mlp", f"csv:{hard_blobs}", "distill", teacher=f"run:{table_teacher}",
                    labels_per_class=3, out=tmp_path / kd_loss, epochs=12, lr=1e-2, mlp_width=8, mlp_depth=1, progress=False,
                    kd_loss=kd_loss, feature_weight=1.0)
    assert run.metrics["test_accuracy"] > 0.7
    feature = [row["train_feature_loss"] for row in run.history if "train_feature_loss" in row]
    assert feature and feature[-1] < feature[0]  # the projection maps the 8-d student features to the teacher's width


def test_distill_across_architectures_and_input_sizes(tmp_path: Path) -> None:
    digits = load_source("builtin:digits")
    keep = np.arange(400)
    data = from_arrays(digits.x[keep], np.asarray(digits.y)[keep], name="digits400")
    teacher = graft.fit("builtin:lenet", data, "scratch", out=tmp_path / "teacher", epochs=6, progress=False)
    run = graft.fit("timm:resnet10t", data, "distill", teacher=f"run:{tmp_path / 'teacher'}", labels_per_class=5,
                    out=tmp_path / "student", epochs=4, pretrained=False, image_size=16, progress=False)
    m = run.metrics
    assert m["teacher_cached"] is False  # augmented images: the teacher sees each step's view
    assert m["teacher_test_accuracy"] == pytest.approx(teacher.metrics["test_accuracy"])
    assert run.model.spec.input.size == (16, 16) and run.model.spec.input.channels == 3
    assert m["test_accuracy"] > 0.3  # ten classes: chance is 0.1


def test_distill_on_text_caches_the_teacher(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    kw = {"text_column": "review", "progress": False, "batch_size": 16}
    graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "scratch", out=tmp_path / "t", epochs=8, lr=5e-3, **kw)
    run = graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "distill", teacher=f"run:{tmp_path / 't'}",
                    labels_per_class=4, out=tmp_path / "s", epochs=8, lr=5e-2, **kw)  # × 0.1 on a transformer
    assert run.metrics["teacher_cached"] is True
    m = run.metrics
    assert m["test_accuracy"] > 0.7, (m["test_accuracy"], m["teacher_test_accuracy"])


def test_distill_errors_through_the_cli(graft_cli, hard_blobs: Path, finished_run: Path, table_teacher: Path,
                                        tmp_path: Path) -> None:
    base = ["fit", "--model", "builtin:mlp", "--data", f"csv:{hard_blobs}", "--strategy", "distill",
            "--out", str(tmp_path / "x")]
    code, _, err = graft_cli(*base)
    assert code == 2 and "distils from a teacher, but none was given" in err and "Traceback" not in err
    code, _, err = graft_cli(*base, "--teacher", "builtin:mlp")
    assert code == 2 and "--teacher must be a model trained on this task" in err
    code, _, err = graft_cli(*base, "--teacher", f"run:{finished_run}")  # blobs classes 0, 1, 2
    assert code == 2 and "predicts other classes" in err and "'ant'" in err
    images = ["fit", "--data", "builtin:digits", "--strategy", "distill", "--teacher", f"run:{table_teacher}",
              "--out", str(tmp_path / "x")]
    code, _, err = graft_cli(*images, "--model", "builtin:mlp")  # a student that cannot read images
    assert code == 2 and "builtin:mlp needs a feature table" in err and "Got image data" in err
    code, _, err = graft_cli(*images, "--model", "builtin:lenet")  # a teacher that cannot
    assert code == 2 and "takes table input" in err and "image data" in err
    code, _, err = graft_cli(*base, "--teacher", f"run:{table_teacher}", "--kd-loss", "mse")
    assert code == 2 and "kd-loss" in err and "dist" in err
    assert not (tmp_path / "x").exists()  # nothing written by a refused run
