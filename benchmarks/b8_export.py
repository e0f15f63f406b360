"""B8 — export (see BENCHMARKS.md): parity and onnxruntime latency against torch eager.

For LeNet (digits, 28 px grey), EfficientNet-Lite0 (digits, 224 px) and MiniLM (BBC news,
128 tokens): a short run, ``graft.export`` to ONNX (its parity check on batch sizes
1, 3, 7), predictions of the whole data set through both engines, and the median latency
of torch eager and of onnxruntime at batch 1 and 32, one thread each, side by side in one
process. Writes results/b8_export.md. Not part of CI.

    python benchmarks/b8_export.py [--models lenet,effnet,minilm] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import graft
from graft.deploy.formats import as_feed
from graft.deploy.onnx_session import OnnxClassifier
from graft.models.example_inputs import example_inputs

from _results import publish

HERE = Path(__file__).parent
MODELS = {
    "lenet": ("builtin:lenet", "builtin:digits", {"strategy": "scratch", "epochs": 3}),
    "effnet": ("builtin:efficientnet-lite0", "builtin:digits", {"strategy": "linear-probe"}),
    "minilm": ("builtin:minilm", "builtin:bbc-news", {"strategy": "linear-probe"}),
}


def median_ms(fn, warmup: int = 2, reps: int = 10) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bench(name: str, out: Path, threads: int) -> dict[str, object]:
    model, data, options = MODELS[name]
    run_dir = out / name
    run = graft.fit(model, data, labels_per_class=10, out=run_dir, overwrite=True, progress=False,
                    test_fraction=0.1, **options)
    result = graft.export(run_dir, format="onnx")
    exported = graft.load_exported(result.path)
    test_data = data  # the whole data set: every example predicted by both engines
    t_ref = time.perf_counter()
    ref = run.predict(test_data)
    t_torch = time.perf_counter() - t_ref
    t_got = time.perf_counter()
    got = exported.predict(test_data, threads=threads)
    t_onnx = time.perf_counter() - t_got
    probs = [c for c in ref if c.startswith("p_")]
    row: dict[str, object] = {
        "model": name, "n_predicted": len(ref),
        "same_predictions": f"{(ref['prediction'] == got['prediction']).mean():.4f}",
        "max_abs_dlogit_parity": f"{result.max_abs_diff:.2g}",
        "max_abs_dprob_data": f"{np.abs(ref[probs].to_numpy() - got[probs].to_numpy()).max():.2g}",
        "onnx_MB": f"{result.path.stat().st_size / 2**20:.1f}", "export_s": f"{result.seconds:.1f}",
        "predict_all_s torch / onnx": f"{t_torch:.1f} / {t_onnx:.1f}",
    }
    eager = run.model.eval()
    session = OnnxClassifier(result.path, threads=threads)
    kind = eager.spec.input.kind
    for batch in (1, 32):
        inputs = example_inputs(eager.spec.input, batch, seq_len=128 if kind == "text" else None)
        feed = as_feed(inputs, kind)
        with torch.inference_mode():
            t_eager = median_ms(lambda: eager(inputs))
        t_ort = median_ms(lambda: session.logits(feed))
        row[f"b{batch} torch ms"] = f"{t_eager:.2f}"
        row[f"b{batch} onnxruntime ms"] = f"{t_ort:.2f}"
        row[f"b{batch} speed-up"] = f"{t_eager / t_ort:.2f}x"
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="lenet,effnet,minilm")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "runs" / "b8_export")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [bench(name, args.out, args.threads) for name in args.models.split(",")]
    load = os.getloadavg()[0]
    intro = (
        "# B8 — export: parity and onnxruntime latency against torch eager\n\n"
        f"Each model is trained briefly (K=10 labels per class), exported with `graft.export(run, format='onnx')` "
        "(opset 18, TorchScript-based exporter) and checked by graft on batch sizes 1, 3, 7 (and 5, 13, 3 tokens "
        "for text) other than the traced batch 2: `max_abs_dlogit_parity`. Then every example of the data set is "
        "predicted by both engines (`same_predictions`, `max_abs_dprob_data`). Latency: median of 10 timed runs "
        f"after 2 warm-ups on synthetic inputs (MiniLM at 128 tokens), torch eager vs onnxruntime (CPU provider), "
        f"{args.threads} thread each, side by side in one process, torch {torch.__version__}. "
        f"CPU: 2 cores shared with another benchmark running at the same time (load average {load:.1f} at the end), "
        "so absolute times are noisy; the ratio of the two engines measured back to back is what to read."
    )
    publish("b8_export", intro, rows)


if __name__ == "__main__":
    main()
