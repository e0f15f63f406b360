"""Self-supervised pretraining on data without labels (rotation, SimCLR, SimCSE for text): the
pretext task learns, the run is usable as run:DIR, and data that the views cannot apply to is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import graft
from graft.cli import app as cli
from graft.errors import ConfigError

QUIET = {"progress": False, "image_size": 16}


def _squares(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Dark images with a bright bar in the top-left corner region (rotation is visible) and a class square."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    x = rng.integers(0, 40, size=(n, 12, 12, 1)).astype(np.uint8)
    x[:, 0:2, 0:8] = 255  # an asymmetric bar: which way is up is learnable
    x[y == 1, 5:9, 5:9] = 200
    return x, y


def test_rotation_learns_its_pretext_task_from_images_without_labels(tmp_path: Path) -> None:
    x, y = _squares()
    np.savez(tmp_path / "x.npz", X=x)  # no labels at all
    run = graft.pretrain("builtin:lenet", f"npz:{tmp_path / 'x.npz'}", method="rotation", out=tmp_path / "rot",
                         epochs=12, lr=3e-3, **QUIET)  # 0.77–0.87 over seeds 0–2 (6 epochs: 0.57–0.69)
    assert run.metrics["n_pretrain"] == 60 and run.metrics["pretext_accuracy"] > 0.6
    assert run.model.classes == ["0", "90", "180", "270"]
    # usable as run:DIR: the backbone is kept, the head is the target's
    target = graft.fit(f"run:{tmp_path / 'rot'}", (x, y), "linear-probe", out=tmp_path / "probe", **QUIET)
    assert target.model.num_classes == 2 and target.metrics["test_accuracy"] >= 0.7


def test_simclr_views_find_their_twins(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = np.zeros((64, 12, 12, 1), dtype=np.uint8)
    for image in x:  # each image its own pattern of bright squares
        for r, c in rng.integers(0, 9, size=(3, 2)):
            image[r:r + 3, c:c + 3] = 255
    run = graft.pretrain("builtin:lenet", x, method="simclr", out=tmp_path / "s", epochs=10, batch_size=32,
                         lr=3e-3, warmup_epochs=0, **QUIET)
    rows = [r for r in run.history if r["epoch"] > 0]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert rows[-1]["train_twin_accuracy"] > 2 / 64  # far above picking one of 63 at random
    assert (tmp_path / "s" / "model" / "model.safetensors").is_file()


def test_simcse_on_a_text_table_without_labels(tiny_bert: Path, sentiment_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(sentiment_csv).drop(columns=["label"])
    frame.to_csv(tmp_path / "texts.csv", index=False)
    run = graft.pretrain(f"hf:{tiny_bert}", f"csv:{tmp_path / 'texts.csv'}", method="simclr", out=tmp_path / "t",
                         text_column="review", epochs=3, batch_size=16, lr=1e-3, progress=False)
    assert run.metrics["n_pretrain"] == 120 and np.isfinite(run.metrics["pretext_loss"])


def test_views_cannot_apply_to_a_table(blobs_npz: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="needs image or text data.*Allowed for table data: supervised"):
        graft.pretrain("builtin:mlp", f"npz:{blobs_npz}", method="simclr", out=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()
    with pytest.raises(SystemExit) as exit_:
        cli.main(["pretrain", "-m", "builtin:mlp", "-d", f"npz:{blobs_npz}", "--method", "rotation",
                  "--out", str(tmp_path / "y")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        line for line in err.splitlines() if "pretrain --method rotation needs image data" in line]
