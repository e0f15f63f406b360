"""Shared fixtures: data facts for tiny image and table tasks."""

from __future__ import annotations

import pytest

from graft.models import DataInfo


@pytest.fixture
def digits_info() -> DataInfo:
    return DataInfo(kind="image", num_classes=10, classes=[str(i) for i in range(10)], channels=1, size=(28, 28))


@pytest.fixture
def rgb_info() -> DataInfo:
    return DataInfo(kind="image", num_classes=3, classes=["a", "b", "c"], channels=3, size=(32, 32))


@pytest.fixture
def table_info() -> DataInfo:
    return DataInfo(kind="table", num_classes=2, classes=["no", "yes"], width=12)
