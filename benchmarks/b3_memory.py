"""Peak memory of training steps, full fine-tuning against LoRA and IA3, each in a fresh process.

``builtin:minilm`` on ``builtin:bbc-news`` (max length 128), batch of 32 articles, a few
training epochs; reports ``peak_memory_mb`` (the resident-set peak of the training steps
on CPU, the CUDA allocator's peak on GPU) and the parameters trained. A fresh process per
strategy keeps one run's allocations out of another's peak. Writes results/b3_memory.md.

    python benchmarks/b3_memory.py [--strategies finetune,lora,ia3] [--k 32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
CHILD = """
import json, sys, graft
strategy, k, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
run = graft.fit("builtin:minilm", "builtin:bbc-news", strategy, labels_per_class=k, out=out, overwrite=True,
                epochs=2, batch_size=32, val_fraction=0.02, test_fraction=0.1, lp_init=False, progress=False,
                max_length=128)
print(json.dumps({k: run.metrics[k] for k in ("strategy", "trainable_params", "total_params", "peak_memory_mb",
                                              "train_seconds")}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strategies", default="finetune,lora,ia3")
    ap.add_argument("--k", type=int, default=32, help="labels per class: 5 classes x K examples per epoch")
    ap.add_argument("--out", default=str(HERE / "runs" / "b3_memory"))
    args = ap.parse_args()
    rows = []
    for name in args.strategies.split(","):
        done = subprocess.run([sys.executable, "-c", CHILD, name, str(args.k), f"{args.out}/{name}"],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    base = next((r for r in rows if r["strategy"] == "finetune"), rows[0])
    lines = ["# Peak memory of training steps: full fine-tuning vs adapters (MiniLM, BBC news)", "",
             f"`builtin:minilm`, max length 128, batch 32, K={args.k} per class, 2 epochs, a fresh process "
             "per strategy; the peak resident memory of the training steps (model, data and process "
             "included); one run each.", "",
             "| strategy | trainable params | trainable % | peak MB (train steps) | vs finetune |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['strategy']} | {r['trainable_params']:,} | "
                     f"{100 * r['trainable_params'] / r['total_params']:.2f} | {r['peak_memory_mb']:.0f} | "
                     f"{r['peak_memory_mb'] - base['peak_memory_mb']:+.0f} MB |")
    text = "\n".join(lines) + "\n"
    (HERE / "results" / "b3_memory.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
