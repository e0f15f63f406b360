"""What the CLI prints: a run's summary, a comparison table, the listing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def print_run(console: Console, run: Any) -> None:
    from graft.engine.ranks import is_main_process

    if not is_main_process():  # one summary for a distributed run
        return
    m = run.metrics
    table = Table(title=f"{m['strategy']} · {m['model']} → {m['data']} (seed {m['seed']})", show_header=False)
    for key in ("test_accuracy", "test_macro_f1", "val_accuracy", "selected_by", "selected_epoch",
                "epochs_run", "n_train_labeled", "n_val", "n_test", "trainable_params", "total_params",
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
    from graft.engine.ranks import is_main_process
    from graft.report import rich_summary, summarize

    if not is_main_process():  # one table for a distributed run
        return

    by = [c for c in ("model", "labels_per_class", "strategy") if c in results and results[c].notna().any()]
    from graft.api import compare_metrics

    metrics = list(compare_metrics(results))
    console.print(rich_summary(summarize(results, by, metrics)))
    console.print(f"Results: {out / 'results.csv'}  Summary: {out / 'summary.md'}  "
                  f"Chart: {out / 'plots' / 'compare.png'}")


def print_tune(console: Console, result: Any) -> None:
    """The best trial and, apart, the one test figure of the search."""
    from graft.options import flag

    study = result.study
    states = [t.state.name.lower() for t in study.trials]
    counts = ", ".join(f"{states.count(s)} {s}" for s in ("complete", "pruned", "fail") if states.count(s))
    table = Table(title=f"tune · {study.study_name} ({counts or 'no trials'})", show_header=False)
    if result.best_value is not None:
        table.add_row(f"best {result.objective} (validation)", f"{result.best_value:.4f}")
        for name, value in result.best_params.items():
            table.add_row(flag(name), f"{value:.4g}" if isinstance(value, float) else str(value))
    else:
        table.add_row("best", "no trial completed yet")
    console.print(table)
    if result.test:
        figures = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.test.items())
        console.print(f"Test figures of the chosen configuration (reported once; the search never used them): "
                      f"{figures}", highlight=False, soft_wrap=True)
    console.print(f"Report: {result.out / 'tune.md'}  Options: {result.out / 'best.yaml'}"
                  + (f"  Best run: {result.best_run_dir}" if result.best_run_dir else ""), soft_wrap=True)


def print_listing(console: Console) -> None:
    from graft.data import BUILTIN_DATA
    from graft.models import BUILTIN_MODELS
    from graft.pretraining import PRETRAIN_METHODS
    from graft.strategies import STRATEGIES

    for title, reg, prefix in (("Strategies", STRATEGIES, ""),
                               ("Pretraining methods (graft pretrain --method)", PRETRAIN_METHODS, ""),
                               ("Built-in models", BUILTIN_MODELS, "builtin:"),
                               ("Built-in data sets", BUILTIN_DATA, "builtin:")):
        table = Table(title=title, show_header=False, title_justify="left")
        for name, help_ in reg.describe().items():
            table.add_row(prefix + name, help_)
        console.print(table)
    console.print("Models also: timm:NAME, run:DIR, file:PATH --arch SPEC.  "
                  "Data also: folder:PATH, csv:PATH, npz:PATH.  Options: graft list --options STRATEGY (or METHOD)")


def print_options(console: Console, strategy: str) -> None:
    """Every option a strategy run takes, from the declarations: the strategy's own, the
    engine's (with the strategy's defaults) and the data and model options."""
    from graft.option_groups import option_groups
    from graft.self_supervised import SELF_SUPERVISED
    from graft.strategies import STRATEGIES

    # a self-supervised pretraining method (graft pretrain --method NAME) lists its options too
    cls = SELF_SUPERVISED.get(strategy) if strategy in SELF_SUPERVISED else STRATEGIES.get(strategy)
    for group in option_groups(cls):
        print_option_table(console, group.title, option_rows_of(group))
    if strategy not in SELF_SUPERVISED:
        from graft.options import flag
        from graft.tuning.space import declared_params

        params = declared_params(cls, cls.Config())
        if params:
            ranges = ", ".join(f"{flag(p.name)} {p.describe()}" for p in params)
            console.print(f"graft tune searches (unless fixed; --space changes them): {ranges}.", highlight=False)
    if cls.ignores_engine_options:
        from graft.options import flag

        ignored = ", ".join(flag(n) for n in sorted(cls.ignores_engine_options))
        console.print(f"{strategy} does not train in the engine's loop; these engine options do not apply "
                      f"to it and are refused: {ignored}.", highlight=False)


def option_rows_of(group: Any) -> list[Any]:
    """The rows of an :class:`~graft.option_groups.OptionGroup`."""
    from graft.option_groups import option_rows

    return option_rows(group.config, group.defaults, group.kind_defaults)


def print_option_table(console: Console, title: str, rows: list[Any]) -> None:
    """One table of options: name, type, default, allowed values, help."""
    table = Table(title=title, title_justify="left")
    for name in ("option", "type", "default"):
        table.add_column(name, no_wrap=name != "default")
    table.add_column("allowed")
    table.add_column("help", ratio=1)
    for row in rows:
        table.add_row(row.name, row.type, row.default_text, row.allowed, row.help)
    console.print(table, highlight=False)


def print_shift(console: Console, result: dict[str, Any], out: Path | None) -> None:
    table = Table(title=f"shift · {result['source']} → {result['data']} through {result['model']}", show_header=False)
    table.add_row("proxy A-distance", f"{result['proxy_a_distance']:.3f}  (0 = indistinguishable, 2 = separable)")
    table.add_row("MMD (linear)", f"{result['mmd_linear']:.4f}")
    table.add_row("MMD (RBF)", f"{result['mmd_rbf']:.4f}")
    table.add_row("examples", f"{result['n_source']} source, {result['n_target']} target")
    if "polarity_differs" in result:
        verdict = ("the polarity differs: DA strategies randomise the source's appearance"
                   if result["polarity_differs"] else "not a change of polarity")
        table.add_row("bright-background images", f"{result['source_bright_background_share']:.0%} source, "
                      f"{result['target_bright_background_share']:.0%} target ({verdict})")
    if "scale_ratio" in result:
        lo, hi = result["source_zoom"]
        table.add_row("subject size", f"target {result['scale_ratio']:.2f}x the source's in the frame "
                      f"(DA strategies zoom the source by about {lo:g}-{hi:g})")
    if "aspect_ratio" in result:
        aspect = result["source_aspect"]
        stretch = (f"DA strategies scale the source's height over width by {aspect:g}" if aspect != 1
                   else "no clear change: DA strategies keep the source's shape")
        table.add_row("subject shape", f"target height over width {result['aspect_ratio']:.2f}x the source's "
                      f"({stretch})")
    console.print(table)
    if out is not None:
        console.print(f"Wrote {out / 'shift.json'} and {out / 'plots' / 'shift_tsne.png'}")
