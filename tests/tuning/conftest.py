"""Fixtures of the tuning tests: a table big enough for a validation split that can tell trials apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import blobs


@pytest.fixture(scope="session")
def tune_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 rows of three separable blobs as an ``npz:`` file."""
    x, y = blobs(40)
    path = tmp_path_factory.mktemp("tune") / "blobs.npz"
    np.savez(path, X=x, y=y)
    return path


#: Options that keep every trial to a fraction of a second.
TINY = {"epochs": 3, "batch_size": 16, "val_fraction": 0.3, "mlp_width": 16, "mlp_depth": 1, "progress": False}
