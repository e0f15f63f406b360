"""B4 — speed (see BENCHMARKS.md). Writes results/b4.md. Not part of CI.

1. Cached linear probe vs the same head trained with the frozen backbone in the loop
   (identical head, optimiser, epochs and batch order → identical accuracy), plus
   graft's default L-BFGS probe.
2. ``finetune`` time per epoch vs a bare PyTorch loop on the same model, data, batch
   size and threads (EfficientNet-Lite0 at 64 px on digits).
3. Feature-extraction throughput vs the bare forward pass.
All timings side by side in one process; ratios are what to read.

    python benchmarks/b4_speed.py [--epochs 10] [--repeats 3] [--device cuda --out results/b4_gpu.md]

On a GPU (``--device cuda``) every loop, the bare ones and graft's, runs there; the data pipeline
(decode, resize, normalise) stays on the CPU in both.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import graft
from graft.data import load_source, make_dataset, make_splits
from graft.engine.features import extract_features
from graft.models import DataInfo, ModelOptions, build_model

HERE = Path(__file__).parent


DEVICE = torch.device("cpu")


def sync() -> None:
    """Wait for queued GPU work, so a wall-clock time covers it."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def head_epochs(head: nn.Linear, batches, epochs: int, features) -> float:
    """Train ``head`` with AdamW; ``features(x)`` maps a batch to features. Returns seconds."""
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=1e-4)
    sync()
    t0 = time.perf_counter()
    for _ in range(epochs):
        for x, y in batches:
            x, y = x.to(DEVICE), y.to(DEVICE)
            with torch.no_grad():
                f = features(x)
            loss = F.cross_entropy(head(f), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    sync()
    return time.perf_counter() - t0


def probe_ratio(model, train_ds, test_ds, epochs: int) -> dict[str, float]:
    g = torch.Generator().manual_seed(0)
    order = [torch.randperm(len(train_ds), generator=g) for _ in range(1)][0]
    xs = torch.stack([train_ds[i][0] for i in order.tolist()])
    ys = torch.as_tensor([int(train_ds[i][1]) for i in order.tolist()])
    bs = 64
    batches = [(xs[i:i + bs], ys[i:i + bs]) for i in range(0, len(xs), bs)]
    backbone = model.backbone.eval().to(DEVICE)
    torch.manual_seed(0)
    head_loop = nn.Linear(model.spec.feature_dim, 10).to(DEVICE)
    head_cached = nn.Linear(model.spec.feature_dim, 10).to(DEVICE)
    head_cached.load_state_dict(head_loop.state_dict())
    t_loop = head_epochs(head_loop, batches, epochs, backbone)
    t0 = time.perf_counter()
    from graft.engine.features import clear_feature_cache
    clear_feature_cache()
    with torch.no_grad():
        feats = torch.cat([backbone(x.to(DEVICE)) for x, _ in batches])
    fbatches = [(feats[i:i + bs], ys[i:i + bs]) for i in range(0, len(xs), bs)]
    t_cached = (time.perf_counter() - t0) + head_epochs(head_cached, fbatches, epochs, lambda f: f)
    f_te, y_te = extract_features(backbone, test_ds, device=DEVICE)
    acc = lambda h: float((h(f_te.to(DEVICE)).argmax(1).cpu() == y_te).float().mean())  # noqa: E731
    return {"in_loop_s": t_loop, "cached_s": t_cached, "ratio": t_loop / t_cached,
            "acc_in_loop": acc(head_loop), "acc_cached": acc(head_cached)}


def bare_finetune_epoch(model: nn.Module, ds, bs: int, epochs: int) -> float:
    loader = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.05)
    model.train()
    times = []
    for _ in range(epochs):
        sync()
        t0 = time.perf_counter()
        for x, y in loader:
            x, y = x.to(DEVICE, non_blocking=True), y.to(DEVICE, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda: every loop runs there")
    ap.add_argument("--out", default=str(HERE / "results" / "b4.md"))
    args = ap.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    accelerator = "cuda" if DEVICE.type == "cuda" else "cpu"
    torch.set_num_threads(2)
    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else "CPU"
    digits = load_source("builtin:digits")
    info = DataInfo.from_source(digits)
    model = build_model("builtin:efficientnet-lite0", info, ModelOptions(image_size=64))
    splits = make_splits(digits, val_fraction=0.0)
    train_ds = make_dataset(digits, splits.train, model.spec.input)
    test_ds = make_dataset(digits, splits.test, model.spec.input)
    lines = ["# B4 — speed", "", f"EfficientNet-Lite0 at 64 px, digits train split ({len(train_ds)} images), "
             f"{where}, {torch.get_num_threads()} CPU threads, median of {args.repeats} repeats.", ""]

    rows = [probe_ratio(model, train_ds, test_ds, args.epochs) for _ in range(args.repeats)]
    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    t0 = time.perf_counter()
    run = graft.fit("builtin:efficientnet-lite0", digits, "linear-probe", image_size=64, val_fraction=0.0,
                    out=HERE / "runs" / "b4-probe", overwrite=True, progress=False, accelerator=accelerator)
    t_graft = time.perf_counter() - t0
    lines += ["## 1. Linear probe: cached features vs frozen backbone in the loop", "",
              f"| head trained {args.epochs} epochs (AdamW, batch 64) | seconds | test accuracy |", "|---|---|---|",
              f"| frozen backbone in the loop | {med['in_loop_s']:.2f} | {med['acc_in_loop']:.3f} |",
              f"| cached features (one forward pass + head) | {med['cached_s']:.2f} | {med['acc_cached']:.3f} |",
              f"| **ratio** | **{med['ratio']:.1f}×** | |",
              f"| graft `linear-probe` default (L-BFGS, C picked on val when there is one), whole `graft.fit` incl. model load and test | {t_graft:.2f} | {run.metrics['test_accuracy']:.3f} |", ""]

    bs = 32
    times_bare, times_graft = [], []
    for r in range(args.repeats):
        torch.manual_seed(r)
        m = build_model("builtin:efficientnet-lite0", info, ModelOptions(image_size=64)).to(DEVICE)
        times_bare.append(bare_finetune_epoch(m, train_ds, bs, 3))
        run = graft.fit("builtin:efficientnet-lite0", digits, "finetune", image_size=64, val_fraction=0.0,
                        lp_init=False, freeze_bn=False, augment="none", epochs=3, batch_size=bs, lr=3e-4,
                        out=HERE / "runs" / "b4-ft", overwrite=True, progress=False, accelerator=accelerator)
        secs = [h["seconds"] for h in run.history]
        times_graft.append(float(np.median(np.diff([0.0] + secs))))
    tb, tg = float(np.median(times_bare)), float(np.median(times_graft))
    lines += ["## 2. finetune engine overhead", "", "| loop | seconds / epoch |", "|---|---|",
              f"| bare PyTorch (AdamW, batch {bs}) | {tb:.2f} |", f"| graft finetune (Fabric, groups, schedule, checkpoint) | {tg:.2f} |",
              f"| **ratio** | **{tg / tb:.3f}** (goal ≤ 1.05) |", ""]

    backbone = model.backbone.eval().to(DEVICE)
    loader = torch.utils.data.DataLoader(train_ds, batch_size=256)
    t_bare, t_ext = [], []
    for _ in range(args.repeats):
        sync()
        t0 = time.perf_counter()
        with torch.no_grad():
            for x, _ in loader:
                backbone(x.to(DEVICE, non_blocking=True))
        sync()
        t_bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        extract_features(backbone, train_ds, cache=False, device=DEVICE)
        t_ext.append(time.perf_counter() - t0)
    n = len(train_ds)
    lines += ["## 3. Feature extraction throughput", "", "| | images/s |", "|---|---|",
              f"| bare forward pass (batch 256) | {n / np.median(t_bare):.0f} |",
              f"| graft extract_features | {n / np.median(t_ext):.0f} |", ""]
    text = "\n".join(lines)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
