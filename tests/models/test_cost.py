"""Inference cost figures: MACs counted against hand counts, latency measured and stated."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from graft.data.base import InputSpec
from graft.models import DataInfo, ModelOptions, build_model
from graft.models.cost import count_macs, model_cost, time_forward
from graft.models.example_inputs import example_inputs


def test_lenet_macs_match_a_hand_count() -> None:
    model = build_model("builtin:lenet", DataInfo(kind="image", num_classes=10, classes=list("0123456789"), channels=1))
    conv1 = 20 * 1 * 5 * 5 * 24 * 24
    conv2 = 50 * 20 * 5 * 5 * 8 * 8
    fc, head = 800 * 500, 500 * 10
    cost = model_cost(model, model.spec.input)
    assert cost["macs"] == conv1 + conv2 + fc + head
    assert cost["params"] == sum(p.numel() for p in model.parameters())
    assert cost["latency_ms_b1"] > 0 and cost["latency_ms_b32"] > cost["latency_ms_b1"]
    assert cost["latency_device"] == "cpu" and cost["latency_threads"] == torch.get_num_threads()


def test_macs_are_per_example_and_scale_with_the_batch() -> None:
    model = build_model("builtin:mlp", DataInfo(kind="table", num_classes=3, classes=["a", "b", "c"], width=6),
                        ModelOptions(hidden=(16, 8))).eval()
    one = count_macs(model, example_inputs(model.spec.input, 1))
    assert one == 6 * 16 + 16 * 8 + 8 * 3
    assert count_macs(model, example_inputs(model.spec.input, 5)) == 5 * one


def test_text_inputs_are_padded_and_costs_name_the_token_count(tiny_bert: Path) -> None:
    model = build_model(f"hf:{tiny_bert}", DataInfo(kind="text", num_classes=2, classes=["a", "b"]))
    batch = example_inputs(model.spec.input, 4, seq_len=10, padded=True)
    assert batch["input_ids"].shape == (4, 10) and batch["attention_mask"][0].all()
    assert (batch["attention_mask"].sum(1)[1:] < 10).all()
    cost = model_cost(model, model.spec.input)
    assert cost["cost_seq_len"] == 64 and cost["macs"] > 0  # tiny BERT's 64 positions


def test_timing_is_capped_for_a_slow_forward() -> None:
    calls = []

    def slow(x: torch.Tensor) -> torch.Tensor:  # the sleep stands for a large model
        calls.append(1)
        time.sleep(0.02)
        return x

    assert time_forward(slow, torch.zeros(1), budget_s=0.01, max_reps=50) >= 20  # type: ignore[arg-type]
    assert len(calls) == 1 + 3  # one warm-up (it was over budget), then the minimum of three timed runs


def test_a_model_without_example_inputs_has_no_figures() -> None:
    model = torch.nn.Linear(2, 2)
    cost = model_cost(model, InputSpec(kind="text", tokenizer=None))
    assert cost["params"] == 6 and cost["macs"] is None and cost["latency_ms_b1"] is None


def test_every_run_reports_its_cost(finished_run: Path) -> None:
    metrics = json.loads((finished_run / "metrics.json").read_text())
    for key in ("params", "macs", "latency_ms_b1", "latency_ms_b32", "latency_threads", "latency_device"):
        assert metrics[key] is not None, key
    assert metrics["params"] == metrics["total_params"]
    report = (finished_run / "report.md").read_text()
    assert "| MACs per example" in report and "latency batch 1 / 32 (median)" in report
    assert f"{metrics['latency_device']}, " in report and "thread" in report
    assert "| macs " not in report  # shown once, in the key figures, not again under other metrics


@pytest.mark.parametrize("spec", [InputSpec(kind="image", channels=3, size=None), InputSpec(kind="table")])
def test_specs_without_a_shape_say_so(spec: InputSpec) -> None:
    from graft.errors import ConfigError

    with pytest.raises(ConfigError, match="no"):
        example_inputs(spec, 1)


def test_a_forward_that_refuses_synthetic_inputs_leaves_a_note_not_a_crash() -> None:
    class Picky(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("wants real data")

    with pytest.warns(UserWarning, match="could not be measured on synthetic inputs .RuntimeError: wants real data"):
        cost = model_cost(Picky(), InputSpec(kind="table", width=3))
    assert cost["macs"] is None and cost["latency_ms_b32"] is None and cost["params"] == 0
