"""What a model costs at inference: parameters, multiply-accumulates and measured latency.

MACs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (part of torch, so no
extra dependency): it counts the FLOPs of the matrix products and convolutions actually
dispatched in one forward pass, 2 per multiply-accumulate. Element-wise work (activations,
norms, pooling) is not counted, as in the MAC figures papers report.

Latency is the median of repeated timed forward passes after a warm-up, on the device the
model is on, in float32, with the thread count stated; repetitions are capped by a time
budget so that timing a tiny model costs milliseconds.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any

import torch
from torch import nn

from graft.data.base import InputSpec
from graft.engine.evaluate import module_device, move_to
from graft.errors import ConfigError
from graft.models.example_inputs import cost_seq_len, example_inputs

#: Batch sizes latency is reported for (``latency_ms_b1``, ``latency_ms_b32``).
LATENCY_BATCHES = (1, 32)


def model_cost(model: nn.Module, spec: InputSpec, *, budget_s: float = 0.3, max_reps: int = 20) -> dict[str, Any]:
    """``params``, ``macs`` (per example) and ``latency_ms_b1``/``latency_ms_b32`` of ``model``.

    Args:
        model: The model, on the device it is measured on; left in the mode it was in.
        spec: What the model takes (synthetic inputs are made from it).
        budget_s: Time spent timing each batch size, after the first 3 timed runs.
        max_reps: At most this many timed runs per batch size.

    Returns:
        The figures, with ``latency_device``, ``latency_threads`` and, for text models,
        ``cost_seq_len`` (the tokens per example they were measured at). Figures that
        cannot be measured for this model (a text model without tokenizer) are None.
    """
    params = sum(p.numel() for p in model.parameters())
    device = module_device(model)
    out: dict[str, Any] = {"params": params, "macs": None, "latency_device": str(device),
                           "latency_threads": torch.get_num_threads(),
                           **{f"latency_ms_b{b}": None for b in LATENCY_BATCHES}}
    if spec.kind == "text":
        out["cost_seq_len"] = cost_seq_len(spec)
    was_training = model.training
    model.eval()
    try:
        # An operator the counter cannot dispatch: MACs unknown, latency still measured.
        with contextlib.suppress(RuntimeError, NotImplementedError, TypeError):
            out["macs"] = count_macs(model, example_inputs(spec, 1), device)
        for batch in LATENCY_BATCHES:
            inputs = move_to(example_inputs(spec, batch), device)
            out[f"latency_ms_b{batch}"] = time_forward(model, inputs, device, budget_s=budget_s, max_reps=max_reps)
    except ConfigError:
        pass  # no synthetic input for this model: the figures stay None
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        # A model whose forward refuses synthetic inputs still finished training: say so, keep the run.
        from graft.notes import note

        note(f"the inference cost (MACs, latency) could not be measured on synthetic inputs "
             f"({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}); "
             "metrics.json has None there")
    finally:
        model.train(was_training)
    return out


def count_macs(model: nn.Module, inputs: Any, device: Any = "cpu") -> int:
    """Multiply-accumulates of one forward pass on ``inputs`` (divide by the batch for per example)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(move_to(inputs, device))
    return int(counter.get_total_flops()) // 2


def time_forward(model: nn.Module, inputs: Any, device: Any = "cpu", *, warmup: int = 2,
                 budget_s: float = 0.3, max_reps: int = 20, min_reps: int = 3) -> float:
    """Median wall time in milliseconds of ``model(inputs)`` after ``warmup`` untimed runs.

    A forward slower than the budget is warmed up once only, so timing a large model at
    batch 32 costs about four forward passes.
    """
    times: list[float] = []
    with torch.inference_mode():
        for i in range(warmup):
            start = time.perf_counter()
            model(inputs)
            _sync(device)
            if i == 0 and time.perf_counter() - start > budget_s:
                break
        begun = time.perf_counter()
        while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() - begun < budget_s):
            start = time.perf_counter()
            model(inputs)
            _sync(device)
            times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)




def _sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
