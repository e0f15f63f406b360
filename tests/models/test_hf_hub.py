"""hf:ORG/NAME: read from the local cache, downloaded when the Hub answers, a fast one-line error when not."""

from __future__ import annotations

import logging
import shutil
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from graft.errors import ConfigError
from graft.models import DataInfo, build_model, hub_access
from graft.notes import GraftNote

INFO = DataInfo(kind="text", num_classes=2, classes=["neg", "pos"])
REPO = "someone/tiny-bert"


def _cache_repo(cache: Path, folder: Path, repo: str = REPO) -> Path:
    """Put a saved model folder into the Hugging Face cache layout, as a download leaves it."""
    commit = "c" * 40
    root = cache / ("models--" + repo.replace("/", "--"))
    snapshot = root / "snapshots" / commit
    shutil.copytree(folder, snapshot)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    return snapshot


def _no_network(host: str, port: int, timeout: float) -> None:
    raise AssertionError("the network was probed")


def test_not_cached_and_offline_fails_fast_in_one_line(offline_hub: list, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("tried to download"))
    start = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        build_model(f"hf:{REPO}", INFO)
    assert time.perf_counter() - start < 1.0
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"hf:{REPO} could not be fetched: offline (huggingface.co:443 is unreachable: "
                              "Name or service not known) and not in the local Hugging Face cache.")
    assert "hf:/path/to/model" in message and "builtin:minilm" in message
    assert offline_hub == [("huggingface.co", 443)]


def test_hf_hub_offline_needs_no_probe(empty_hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_access, "_connect", _no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"offline \(HF_HUB_OFFLINE is set\)"):
        build_model(f"hf:{REPO}", INFO)


def test_a_cached_hub_id_loads_without_the_network(tiny_bert: Path, empty_hub_cache: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _cache_repo(empty_hub_cache, tiny_bert)
    monkeypatch.setattr(hub_access, "_connect", _no_network)
    model = build_model(f"hf:{REPO}", INFO)
    local = build_model(f"hf:{tiny_bert}", INFO)
    a, b = model.backbone.state_dict(), local.backbone.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert model.spec.name == f"hf:{REPO}" and model.spec.input.tokenizer == REPO


def test_online_a_hub_id_is_downloaded_once_with_only_the_files_transformers_reads(
        tiny_bert: Path, empty_hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    monkeypatch.setattr(hub_access, "_connect", lambda host, port, timeout: None)  # the Hub answers
    listing = [p.name for p in tiny_bert.iterdir()] + ["pytorch_model.bin", "tf_model.h5", "onnx/model.onnx"]
    fetched: list[list[str]] = []

    def snapshot_download(repo_id: str, allow_patterns: list[str], **kwargs: Any) -> str:
        fetched.append(sorted(allow_patterns))
        return str(_cache_repo(empty_hub_cache, tiny_bert, repo_id))

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", lambda self, repo_id, **kw: listing)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    model = build_model(f"hf:{REPO}", INFO)
    assert fetched == [sorted(p.name for p in tiny_bert.iterdir())]  # safetensors only, no .bin/.h5/onnx
    assert model.spec.feature_dim == 16
    build_model(f"hf:{REPO}", INFO)  # now cached: no second download
    assert len(fetched) == 1


def test_an_unknown_hub_id_says_so(empty_hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    def not_found(self: object, repo_id: str, **kwargs: Any) -> list[str]:
        response = SimpleNamespace(headers={}, request=None, status_code=404)
        raise RepositoryNotFoundError("404 Client Error: Repository Not Found", response=response)  # type: ignore[arg-type]

    monkeypatch.setattr(hub_access, "_connect", lambda host, port, timeout: None)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", not_found)
    with pytest.raises(ConfigError, match=f"hf:{REPO} is not a model on the Hugging Face Hub.*hf auth login"):
        build_model(f"hf:{REPO}", INFO)


def test_an_encoder_from_a_task_checkpoint_loads_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=32)
    transformers.BertForMaskedLM(config).save_pretrained(tmp_path / "mlm")  # a head to drop, no pooler
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        build_model(f"hf:{tmp_path / 'mlm'}", INFO)
    assert not [r for r in caplog.records if "LOAD REPORT" in r.getMessage()]
    assert not [w for w in caught if issubclass(w.category, GraftNote)]


def test_missing_encoder_weights_are_a_graft_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    transformers = pytest.importorskip("transformers")
    from safetensors.torch import load_file, save_file

    config = transformers.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=32)
    transformers.BertModel(config).save_pretrained(tmp_path / "enc")
    weights = load_file(str(tmp_path / "enc" / "model.safetensors"))
    gone = [k for k in weights if "attention.self.query" in k]
    save_file({k: v for k, v in weights.items() if k not in gone}, str(tmp_path / "enc" / "model.safetensors"),
              metadata={"format": "pt"})
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        build_model(f"hf:{tmp_path / 'enc'}", INFO)
    notes = [str(w.message) for w in caught if issubclass(w.category, GraftNote)]
    assert len(notes) == 1 and notes[0].startswith(f"2 weight(s) of hf:{tmp_path / 'enc'} are not in its checkpoint")
    assert "attention.self.query" in notes[0]
    assert not [r for r in caplog.records if "LOAD REPORT" in r.getMessage()]  # said once, in graft's words
