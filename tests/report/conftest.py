"""Fixtures shared by the report tests: PNG checks, temp-file checks, tiny results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image


def _assert_png(path: Path, size: tuple[int, int]) -> None:
    """The file is a non-empty PNG of exactly ``size`` pixels (figsize × DPI)."""
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == size


def _assert_no_temp_files(root: Path) -> None:
    """Atomic writes leave no ``.name.XXXX.tmp`` files behind."""
    leftovers = [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.fixture
def assert_png() -> Callable[[Path, tuple[int, int]], None]:
    """Check that a path is a PNG PIL can open, with the expected pixel size."""
    return _assert_png


@pytest.fixture
def assert_no_temp_files() -> Callable[[Path], None]:
    """Check that no temp file of an atomic write is left under a folder."""
    return _assert_no_temp_files


@pytest.fixture
def two_strategy_results() -> pd.DataFrame:
    """Two strategies × three seeds with hand-checkable means and stds."""
    return pd.DataFrame(
        {
            "model": ["builtin:lenet"] * 6,
            "data": ["builtin:digits"] * 6,
            "strategy": ["finetune"] * 3 + ["scratch"] * 3,
            "seed": [0, 1, 2, 0, 1, 2],
            "test_accuracy": [0.8, 0.9, 1.0, 0.5, 0.6, 0.7],
            "test_macro_f1": [0.7, 0.8, 0.9, 0.4, 0.5, 0.6],
            "train_seconds": [10.0, 12.0, 14.0, 3.0, 4.0, 5.0],
        }
    )
