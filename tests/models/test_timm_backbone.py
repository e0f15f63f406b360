"""timm:NAME backbones and their spec."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from graft.errors import CheckpointError, SpecError
from graft.models import DataInfo, ModelOptions, build_model, hub_access


def test_input_from_pretrained_cfg(rgb_info: DataInfo) -> None:
    model = build_model("timm:resnet10t", rgb_info, ModelOptions(pretrained=False))
    cfg = model.backbone.pretrained_cfg
    assert model.spec.input.size == tuple(cfg["input_size"][1:])
    assert model.spec.input.mean == tuple(cfg["mean"]) and model.spec.input.std == tuple(cfg["std"])
    assert model.spec.input.channels == 3
    assert model.spec.feature_dim == model.backbone.num_features == 512


def test_image_size_override(rgb_info: DataInfo) -> None:
    model = build_model("timm:resnet10t", rgb_info, ModelOptions(pretrained=False, image_size=48))
    assert model.spec.input.size == (48, 48)


def test_fixed_size_transformer_is_built_for_the_override(rgb_info: DataInfo) -> None:
    model = build_model("timm:test_vit", rgb_info, ModelOptions(pretrained=False, image_size=64)).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 3)


def test_groups_follow_group_matcher(rgb_info: DataInfo) -> None:
    spec = build_model("timm:test_vit", rgb_info, ModelOptions(pretrained=False)).spec
    assert "cls_token" in spec.stem and "pos_embed" in spec.stem
    assert any(n.startswith("blocks.0.") for n in spec.groups[1])
    assert {"cls_token", "pos_embed"} <= spec.no_weight_decay
    assert "blocks.0.attn.qkv.weight" not in spec.no_weight_decay
    assert "blocks.0.attn.qkv" in spec.adapter_targets


def test_unknown_timm_name_says_did_you_mean(rgb_info: DataInfo) -> None:
    with pytest.raises(SpecError, match="Did you mean 'resnet18'"):
        build_model("timm:resnet18x", rgb_info, ModelOptions(pretrained=False))


def test_a_failed_download_says_no_pretrained(rgb_info: DataInfo, offline_hub: list[tuple[str, int]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import timm

    def failing_download(*args: object, **kwargs: object) -> None:
        raise OSError("Connection reset by peer")

    monkeypatch.setattr(hub_access, "_connect", lambda host, port, timeout: None)  # the host answers
    monkeypatch.setattr(timm, "create_model", failing_download)
    with pytest.raises(CheckpointError, match="timm:resnet10t could not be fetched: Connection reset.*--no-pretrained"):
        build_model("timm:resnet10t", rgb_info, ModelOptions(pretrained=True))


def test_offline_and_not_cached_fails_in_well_under_a_second(rgb_info: DataInfo, offline_hub: list,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import timm

    downloads: list[str] = []
    monkeypatch.setattr(timm, "create_model", lambda name, **kw: downloads.append(name))
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as err:
        build_model("timm:resnet10t", rgb_info, ModelOptions(pretrained=True))
    assert time.perf_counter() - start < 1.0
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        "Pretrained weights for timm:resnet10t could not be fetched: offline (huggingface.co:443 is unreachable: "
        "Name or service not known) and not in the local cache."
    )
    assert "--no-pretrained" in message and "--model file:PATH --arch timm:resnet10t" in message
    assert "builtin:efficientnet-lite0" in message
    assert offline_hub == [("huggingface.co", 443)] and downloads == []  # one probe, no download attempt


def test_a_host_that_does_not_answer_is_offline_after_the_probe_timeout(
        rgb_info: DataInfo, empty_hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_access, "_connect", lambda host, port, timeout: time.sleep(30))
    monkeypatch.setattr(hub_access, "PROBE_TIMEOUT_S", 0.2)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"huggingface.co:443 is unreachable: no answer within 0.2 s"):
        build_model("timm:resnet10t", rgb_info, ModelOptions(pretrained=True))
    assert time.perf_counter() - start < 1.0


def test_hf_hub_offline_needs_no_probe(rgb_info: DataInfo, empty_hub_cache: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(host: str, port: int, timeout: float) -> None:
        raise AssertionError("the network was probed")

    monkeypatch.setattr(hub_access, "_connect", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="offline \\(HF_HUB_OFFLINE is set\\) and not in the local cache"):
        build_model("timm:resnet10t", rgb_info, ModelOptions(pretrained=True))


def test_cached_weights_load_without_the_network(rgb_info: DataInfo, empty_hub_cache: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import timm
    from safetensors.torch import save_file

    def no_network(host: str, port: int, timeout: float) -> None:
        raise AssertionError("the network was probed")

    monkeypatch.setattr(hub_access, "_connect", no_network)
    torch.manual_seed(3)
    weights = {k: v.contiguous() for k, v in timm.create_model("resnet10t", pretrained=False).state_dict().items()}
    snapshot = empty_hub_cache / "models--timm--resnet10t.c3_in1k" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    save_file(weights, str(snapshot / "model.safetensors"))
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("a" * 40)
    model = build_model("timm:resnet10t", rgb_info, ModelOptions(pretrained=True))
    assert torch.equal(model.backbone.conv1[0].weight, weights["conv1.0.weight"])


def test_unknown_weights_tag(rgb_info: DataInfo) -> None:
    with pytest.raises(SpecError, match="Did you mean 'resnet18.a1_in1k'"):
        build_model("timm:resnet18.a1_in1kk", rgb_info, ModelOptions(pretrained=False))
