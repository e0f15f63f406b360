"""Test-time augmentation (``--tta N``): fixed views, averaged probabilities, the same in every
batch, used by the test figures and by predict, refused where there are no images."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import graft
from graft.errors import ConfigError
from graft.models.test_time import ViewAverage, checked_views, view_grids, with_views
from tests.export.conftest import image_folder


class _Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(12 * 12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def test_the_views_are_fixed_and_a_prediction_does_not_depend_on_its_batch() -> None:
    torch.manual_seed(1)
    x = torch.rand(6, 1, 12, 12)
    model = ViewAverage(_Linear(), 4, 12, 12)
    out = model(x)
    assert torch.allclose(out.exp().sum(1), torch.ones(6), atol=1e-5)  # log of an average of softmaxes
    assert torch.allclose(model(x.flip(0)).flip(0), out, atol=1e-6)  # order in the batch changes nothing
    assert torch.allclose(model(x[2:3]), out[2:3], atol=1e-6)
    assert torch.equal(view_grids(4, 12, 12), view_grids(4, 12, 12))
    assert not torch.allclose(out, F.log_softmax(model.model(x), 1))  # the views do move the images


def test_the_average_is_over_the_image_and_each_view() -> None:
    x = torch.rand(3, 1, 12, 12)
    inner = _Linear()
    model = ViewAverage(inner, 2, 12, 12)
    floor = x.amin(dim=(1, 2, 3), keepdim=True)
    probs = [F.softmax(inner(x), 1)]
    for grid in view_grids(2, 12, 12):
        moved = F.grid_sample(x - floor, grid.unsqueeze(0).expand(3, -1, -1, -1), align_corners=False) + floor
        probs.append(F.softmax(inner(moved), 1))
    assert torch.allclose(model(x).exp(), torch.stack(probs).mean(0), atol=1e-6)
    assert with_views(inner, 0) is inner


class _CornerPixel(nn.Module):
    """Reads the class off one pixel: any shift of the image loses it."""

    spec = SimpleNamespace(input=SimpleNamespace(size=(12, 12)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 20 * torch.stack([x[:, 0, 1, 1], 1 - x[:, 0, 1, 1]], 1)


def test_views_that_raise_the_validation_loss_are_declined() -> None:
    from torch.utils.data import TensorDataset

    y = torch.arange(40) % 2
    x = torch.zeros(40, 1, 12, 12)
    x[:, 0, 1, 1] = (y == 0).float()
    used, figures = checked_views(_CornerPixel(), TensorDataset(x, y), 4)
    assert used == 0 and figures["val_loss_views"] > figures["val_loss_single_view"]
    assert checked_views(_CornerPixel(), None, 4) == (4, {})  # nothing to check against: as asked


@pytest.fixture(scope="module")
def tta_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tta")
    images = image_folder(root / "shapes", per_class=8)
    graft.fit("builtin:lenet", f"folder:{images}", "scratch", out=root / "run", tta=4, progress=False, epochs=3,
              lr=1e-2, test_fraction=0.5, val_fraction=0.0)
    return root / "run", images


def test_a_run_with_tta_scores_and_predicts_with_its_views(tta_run: tuple[Path, Path]) -> None:
    run_dir, images = tta_run
    run = graft.load_run(run_dir)
    assert run.metrics["tta"] == run.metrics["tta_used"] == 4 and 0 <= run.metrics["test_accuracy_single_view"] <= 1
    averaged, single = run.predict(f"folder:{images}"), run.predict(f"folder:{images}", tta=0)
    probs = [c for c in averaged if c.startswith("p_")]
    assert not np.allclose(averaged[probs], single[probs])  # predict uses the run's views unless told
    assert np.allclose(averaged[probs].sum(1), 1.0, atol=1e-5)
    with pytest.raises(ConfigError, match="must be in \\[0, 64\\]"):
        run.predict(f"folder:{images}", tta=-1)
    run.metrics["tta_used"] = 0  # as when validation declined the views: predict follows
    assert np.allclose(run.predict(f"folder:{images}")[probs], single[probs])
    run.metrics["tta_used"] = 0  # as when validation declined the views: predict follows
    assert np.allclose(run.predict(f"folder:{images}")[probs], single[probs])


def test_tta_is_refused_for_tables_and_for_an_exported_graph(tta_run: tuple[Path, Path], finished_run: Path,
                                                             blobs_npz: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from graft.cli.app import main

    with pytest.raises(ConfigError, match="the model takes table.*Fix: drop --tta"):
        graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", tta=2, progress=False)
    for argv, says in ((["--run", finished_run, "--data", f"npz:{blobs_npz}"], "the model takes table"),
                       (["--run", tta_run[0], "--data", f"folder:{tta_run[1]}", "--engine", "onnx"],
                        "needs the torch engine")):
        with pytest.raises(SystemExit) as stop:
            main(["predict", "--tta", "2", *[str(a) for a in argv]])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err
