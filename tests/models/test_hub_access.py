"""The reachability probe: the proxy is probed when one applies, and the answer comes in time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from graft.models import hub_access


def test_a_reachable_host_gives_no_reason(empty_hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probed: list[tuple[str, int, float]] = []
    monkeypatch.setattr(hub_access, "_connect", lambda host, port, timeout: probed.append((host, port, timeout)))
    assert hub_access.unreachable_reason() is None
    assert probed == [("huggingface.co", 443, hub_access.PROBE_TIMEOUT_S)]


def test_the_proxy_is_the_first_hop_unless_bypassed(empty_hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert hub_access._first_hop("https://huggingface.co") == ("proxy.internal", 3128)
    monkeypatch.setenv("NO_PROXY", "huggingface.co")
    assert hub_access._first_hop("https://huggingface.co") == ("huggingface.co", 443)
    assert hub_access._first_hop("http://example.org:8080/w.pth") == ("example.org", 8080)


def test_a_hanging_lookup_is_cut_at_the_timeout(empty_hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_access, "_connect", lambda host, port, timeout: time.sleep(30))  # a DNS that never answers
    start = time.perf_counter()
    assert hub_access.unreachable_reason(timeout=0.1) == "huggingface.co:443 is unreachable: no answer within 0.1 s"
    assert time.perf_counter() - start < 1.0


def test_offline_setting_applies_to_the_hub_only(empty_hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_access, "_connect", lambda host, port, timeout: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_access.unreachable_reason() == "HF_HUB_OFFLINE is set"
    assert hub_access.unreachable_reason("https://github.com/x/w.pth") is None


def test_cached_hub_file_looks_only_in_the_cache(empty_hub_cache: Path) -> None:
    assert hub_access.cached_hub_file("org/model", ["config.json"]) is None
    snapshot = empty_hub_cache / "models--org--model" / "snapshots" / ("b" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("b" * 40)
    assert hub_access.cached_hub_file("org/model", ["model.safetensors", "config.json"]) == str(snapshot / "config.json")
