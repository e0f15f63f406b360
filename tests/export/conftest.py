"""Tiny finished runs of each input kind, shared by the export tests (do not modify them:
tests that export write into their own copies or pass --out)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import graft


def image_folder(root: Path, per_class: int = 6, size: int = 20, mode: str = "L") -> Path:
    """Three classes of drawn patterns (block, rows, columns), one sub-folder each."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(("block", "rows", "cols")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            arr = np.zeros((size, size), dtype=np.uint8)
            if c == 0:
                arr[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 255
            elif c == 1:
                arr[::2] = 255
            else:
                arr[:, ::3] = 200
            arr = np.clip(arr.astype(int) + rng.integers(0, 40, arr.shape), 0, 255).astype(np.uint8)
            img = Image.fromarray(arr, mode="L")
            (img.convert("RGB") if mode == "RGB" else img).save(root / name / f"{name}{i}.png")
    return root


@pytest.fixture(scope="session")
def table_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A table with a numeric, a noise and a categorical column, and string labels."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    frame = pd.DataFrame({"a": y + rng.normal(0, 0.4, 80), "b": rng.normal(0, 1, 80),
                          "kind": np.where(rng.random(80) < 0.7, np.where(y == 1, "x", "y"), "z"),
                          "label": np.where(y == 1, "yes", "no")})
    path = tmp_path_factory.mktemp("table") / "t.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory, table_csv: Path, blobs_npz: Path, tiny_bert: Path,
         sentiment_csv: Path) -> dict[str, tuple[Path, str]]:
    """``kind → (run directory, data spec to predict)`` for a table, an array, images (also with
    ``--tta 4``) and text."""
    root = tmp_path_factory.mktemp("export-runs")
    images = image_folder(root / "shapes")
    quick = {"progress": False, "epochs": 2, "lr": 1e-2}
    graft.fit("builtin:mlp", f"csv:{table_csv}", "scratch", out=root / "table", **quick)
    graft.fit("builtin:mlp", f"npz:{blobs_npz}", "scratch", out=root / "array", **quick)
    graft.fit("builtin:lenet", f"folder:{images}", "scratch", out=root / "image", **quick)
    graft.fit("builtin:lenet", f"folder:{images}", "scratch", out=root / "image-tta", tta=4, tta_check=False,
              **quick)
    graft.fit(f"hf:{tiny_bert}", f"csv:{sentiment_csv}", "finetune", text_column="review", out=root / "text",
              progress=False, epochs=1)
    rgb = image_folder(root / "rgb", per_class=3, size=32, mode="RGB")  # other size and channels: resized, luma
    return {"table": (root / "table", f"csv:{table_csv}"), "array": (root / "array", f"npz:{blobs_npz}"),
            "image": (root / "image", f"folder:{rgb}"), "image-tta": (root / "image-tta", f"folder:{rgb}"),
            "text": (root / "text", f"csv:{sentiment_csv}")}


@pytest.fixture
def run_copy(runs: dict[str, tuple[Path, str]], tmp_path: Path):  # type: ignore[no-untyped-def]
    """``run_copy(kind)`` → a private copy of a shared run, free to export into."""

    def copy(kind: str) -> Path:
        target = tmp_path / kind
        shutil.copytree(runs[kind][0], target)
        return target

    return copy
