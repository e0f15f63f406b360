"""``graft demo``: the whole job on built-in offline data, in a few minutes on a CPU.

1. Pretrain LeNet on MNIST-5k (supervised) → ``run:DIR``.
2. Transfer it, and EfficientNet-Lite0 (ImageNet, 64 px), to scikit-learn's digits with
   K labeled examples per class: scratch vs linear-probe vs finetune, over seeds.
3. Write one report: mean ± std table, bar chart, learning curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from graft.io import write_text


def run_demo(out: Path, *, seeds: list[int], quick: bool = False, **options: Any) -> Path:
    """Run the demo and return the path of its report."""
    from graft.api import compare, pretrain
    from graft.data import load_source
    from graft.report import markdown_table, plot_learning_curves, write_compare_outputs
    from graft.run_dir import check_out_folder

    check_out_folder(out)
    out = Path(out)
    options.pop("progress", None)  # the demo trains without a bar either way
    ks: list[int | None] = [10] if quick else [5, 10]
    epochs: dict[str, int] = {"epochs": 4} if quick else {}  # otherwise each strategy's default
    source = pretrain("builtin:lenet", "builtin:mnist5k", out=out / "pretrain-lenet-mnist5k",
                      overwrite=True, epochs=2 if quick else 8, progress=False)
    digits = load_source("builtin:digits")
    strategies = ["scratch", "linear-probe", "finetune"]
    models: list[tuple[str, str, dict[str, Any]]] = [
        (f"run:{source.run_dir}", "lenet-mnist5k", {}),
        ("builtin:efficientnet-lite0", "efficientnet-lite0", {"image_size": 64}),
    ]
    frames = []
    for spec, short, model_opts in models:
        res = compare(spec, digits, strategies, seeds=seeds, labels_per_class=ks, out=out / short,
                      progress=False, overwrite=True, **{**epochs, **model_opts, **options})
        res["model"] = short
        frames.append(res)
    results = pd.concat(frames, ignore_index=True)
    paths = write_compare_outputs(results, out)

    curves = []
    for short in [m[1] for m in models]:
        row = results[(results["model"] == short) & (results["strategy"] == "finetune")].iloc[-1]
        hist = pd.read_csv(Path(row["run_dir"]) / "history.csv")
        png = out / "plots" / f"learning_curves-{short}-finetune.png"
        plot_learning_curves(hist, png, title=f"finetune · {short} · K={row['labels_per_class']}")
        curves.append(png)
    summary = Path(paths["summary"]).read_text()
    lines = [
        "# graft demo: MNIST-5k → digits, few labels",
        "",
        f"LeNet pretrained on MNIST-5k (source test accuracy "
        f"{source.metrics['test_accuracy']:.3f}) and EfficientNet-Lite0 (ImageNet, 64 px) transferred to "
        f"scikit-learn digits with K ∈ {{{', '.join(str(k) for k in ks)}}} labels per class, seeds "
        f"{', '.join(map(str, seeds))}. Test split: 50 % of digits, never used for training or selection.",
        "",
        summary,
        "",
        *[f"![{p.stem}](plots/{p.name})" for p in curves],
        "",
        "Every run's directory (model, metrics.json, history.csv, report.md) is under "
        "`lenet-mnist5k/runs/` and `efficientnet-lite0/runs/`.",
        "",
        "## Per-run results",
        "",
        markdown_table(results[["model", "labels_per_class", "strategy", "seed", "test_accuracy",
                                "test_macro_f1", "train_seconds"]]),
    ]
    report = out / "report.md"
    write_text(report, "\n".join(lines) + "\n")
    return report
