"""What the CLI prints: a run's summary, a comparison table, the listing."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def print_run(console: Console, run: Any) -> None:
    from graft.engine.fabric import is_main_process

    if not is_main_process():  # one summary for a distributed run
        return
    m = run.metrics
    table = Table(title=f"{m['strategy']} · {m['model']} → {m['data']} (seed {m['seed']})", show_header=False)
    for key in ("test_accuracy", "test_macro_f1", "val_accuracy", "selected_by", "selected_epoch",
                "epochs_run", "n_train_labeled", "n_test", "trainable_params", "total_params",
                "train_seconds", "peak_memory_mb"):
        value = m.get(key)
        if isinstance(value, float):
            value = f"{value:.4f}" if "accuracy" in key or "f1" in key else f"{value:.1f}"
        if key == "selected_epoch" and value == 0:
            value = "0 (the starting model: no epoch beat it on validation beyond noise)"
        table.add_row(key, str(value))
    console.print(table)
    console.print(f"Run directory: {run.run_dir}  (report: {Path(run.run_dir) / 'report.md'})")


def print_compare(console: Console, results: Any, out: Path) -> None:
    from graft.report import rich_summary, summarize

    by = [c for c in ("model", "labels_per_class", "strategy") if c in results and results[c].notna().any()]
    from graft.api import compare_metrics

    metrics = list(compare_metrics(results))
    console.print(rich_summary(summarize(results, by, metrics)))
    console.print(f"Results: {out / 'results.csv'}  Summary: {out / 'summary.md'}  Chart: {out / 'plots' / 'compare.png'}")


def print_listing(console: Console) -> None:
    from graft.data import BUILTIN_DATA
    from graft.models import BUILTIN_MODELS
    from graft.strategies import STRATEGIES

    for title, reg, prefix in (("Strategies", STRATEGIES, ""), ("Built-in models", BUILTIN_MODELS, "builtin:"),
                               ("Built-in data sets", BUILTIN_DATA, "builtin:")):
        table = Table(title=title, show_header=False, title_justify="left")
        for name, help_ in reg.describe().items():
            table.add_row(prefix + name, help_)
        console.print(table)
    console.print("Models also: timm:NAME, run:DIR, file:PATH --arch SPEC.  "
                  "Data also: folder:PATH, csv:PATH, npz:PATH.  Options: graft list --options STRATEGY")


def print_options(console: Console, strategy: str) -> None:
    from graft.engine.config import TrainConfig
    from graft.strategies import STRATEGIES

    from graft.run_options import RunOptions

    cls = STRATEGIES.get(strategy)
    for title, config_cls, defaults in ((f"Options of {strategy}", cls.Config, {}),
                                         ("Engine options", TrainConfig, cls.train_defaults),
                                         ("Data and model options", RunOptions, {})):
        table = Table(title=title, title_justify="left")
        table.add_column("option")
        table.add_column("default")
        for f in dataclasses.fields(config_cls):
            default = defaults.get(f.name, f.default)
            table.add_row("--" + f.name.replace("_", "-"), repr(default))
        console.print(table)


def print_shift(console: Console, result: dict[str, Any], out: Path | None) -> None:
    table = Table(title=f"shift · {result['source']} → {result['data']} through {result['model']}", show_header=False)
    table.add_row("proxy A-distance", f"{result['proxy_a_distance']:.3f}  (0 = indistinguishable, 2 = separable)")
    table.add_row("MMD (linear)", f"{result['mmd_linear']:.4f}")
    table.add_row("MMD (RBF)", f"{result['mmd_rbf']:.4f}")
    table.add_row("examples", f"{result['n_source']} source, {result['n_target']} target")
    console.print(table)
    if out is not None:
        console.print(f"Wrote {out / 'shift.json'} and {out / 'plots' / 'shift_tsne.png'}")
