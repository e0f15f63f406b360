"""Shared fixtures: data facts for tiny image and table tasks."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture
def empty_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, so no weights of this machine's cache are found."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://huggingface.co")
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return cache


@pytest.fixture
def offline_hub(empty_hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """No host answers (as with no network); returns the (host, port) pairs probed."""
    from graft.models import hub_access

    probed: list[tuple[str, int]] = []

    def unreachable(host: str, port: int, timeout: float) -> None:
        probed.append((host, port))
        raise OSError(-2, "Name or service not known")

    monkeypatch.setattr(hub_access, "_connect", unreachable)
    return probed
