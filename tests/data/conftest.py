"""Fixtures for the data tests: built-in sources loaded once, tiny image folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from graft.data import DataSource, load_source


@pytest.fixture(scope="session")
def digits() -> DataSource:
    return load_source("builtin:digits")


@pytest.fixture(scope="session")
def mnist() -> DataSource:
    return load_source("builtin:mnist5k")


def _write_image(
    path: Path, size: tuple[int, int] = (6, 5), mode: str = "RGB", value: int = 0
) -> Path:
    """Write a small image (width, height) whose pixels vary, so content is not trivial."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    ramp = (np.arange(w * h).reshape(h, w) * 7 + value) % 256
    if mode == "L":
        arr = ramp.astype(np.uint8)
    else:
        arr = np.stack([ramp, ramp[::-1], np.full_like(ramp, value)], axis=-1).astype(np.uint8)
    Image.fromarray(arr, mode="L" if mode == "L" else "RGB").save(path)
    return path


@pytest.fixture
def image_folder(tmp_path: Path) -> Callable[..., Path]:
    """Build a folder from ``{"relative/dir": count}``; images are 6x5 unless told."""

    def build(
        layout: dict[str, int], mode: str = "RGB", size: tuple[int, int] = (6, 5), ext: str = ".png"
    ) -> Path:
        root = tmp_path / "images"
        root.mkdir(exist_ok=True)
        for rel, count in layout.items():
            (root / rel).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                _write_image(root / rel / f"img{i}{ext}", size=size, mode=mode, value=i * 10)
        return root

    return build


@pytest.fixture
def write_image() -> Callable[..., Path]:
    """``write_image(path, size=(w, h), mode="RGB"|"L", value=0)``."""
    return _write_image
