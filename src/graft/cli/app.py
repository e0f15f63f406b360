"""The ``graft`` command line: a thin typer shell over :mod:`graft.api`.

Engine and strategy options are not declared here: they are generated from the
config dataclasses (``--layer-decay 0.7`` sets ``FinetuneConfig.layer_decay``), so a
new strategy's options appear on the command line the day it is registered, and
``--help`` lists them (:mod:`graft.cli.help`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from graft.cli.extra_args import parse_extra_args
from graft.cli.help import GeneratedOptionsCommand
from graft.errors import ConfigError, GraftError

app = typer.Typer(
    help="graft: transfer learning for PyTorch — adapt a pretrained model with honest numbers.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
# Piped into a file or a pager, rich would cut tables at 80 columns.
out_console = Console() if sys.stdout.isatty() else Console(width=160)
EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}

ModelOpt = typer.Option(
    ..., "--model", "-m", help="Model spec: timm:NAME, builtin:NAME, run:DIR, file:PATH (+ --arch).")
DataOpt = typer.Option(..., "--data", "-d", help="Data spec: builtin:NAME, folder:PATH, csv:PATH, npz:PATH.")
# Where --config may give them, --model and --data are checked once the file is read.
ModelOrFile = typer.Option(None, "--model", "-m", help="Model spec: timm:NAME, builtin:NAME, run:DIR, file:PATH "
                           "(+ --arch); or model: in --config.")
DataOrFile = typer.Option(None, "--data", "-d", help="Data spec: builtin:NAME, folder:PATH, csv:PATH, npz:PATH; "
                          "or data: in --config.")
ConfigOpt = typer.Option(None, "--config", help="YAML file of options (a run's config.yaml, tune's best.yaml, or "
                         "name: value lines); the command line overrides it.")


def _print_version(value: bool) -> None:
    if value:
        from graft import __version__

        out_console.print(f"graft {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print graft's version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="No progress bars (sets --no-progress on the commands that train)."),
) -> None:
    """Options of every command (``--version``, ``--quiet``); the commands read them from ``ctx.obj``."""
    ctx.obj = {"quiet": quiet}


def _extra_options(ctx: typer.Context) -> dict[str, Any]:
    """The generated options that follow a command, with the global --quiet applied."""
    options = parse_extra_args(ctx.args)
    if isinstance(ctx.obj, dict) and ctx.obj.get("quiet"):
        options["progress"] = "false"
    return options


def _named(ctx: typer.Context) -> list[str]:
    """The command's own named options, valid names next to the generated ones."""
    return [p.name for p in ctx.command.params if p.name]


@app.command(context_settings=EXTRA, cls=GeneratedOptionsCommand)
def fit(
    ctx: typer.Context,
    model: list[str] | None = typer.Option(
        None, "--model", "-m", metavar="SPEC",
        help="Model spec: timm:NAME, builtin:NAME, run:DIR, file:PATH (+ --arch); or model: in "
        "--config. Repeat it with --strategy auto: the models are ranked first and the winner is used."),
    data: str | None = DataOrFile,
    strategy: str | None = typer.Option(
        None, "--strategy", "-s",
        help="Strategy name (graft list), or auto (measure, then pick by rules from graft's benchmarks); default "
        "finetune, or scratch for a model without pretrained weights."),
    labels_per_class: int | None = typer.Option(
        None, "--labels-per-class", "-k", help="Keep K labeled examples per class."),
    seed: int = typer.Option(0, help="Seed of the labeled subset, init, shuffling."),
    out: Path | None = typer.Option(None, help="Run directory (default runs/...)."),
    source: str | None = typer.Option(None, help="Labeled source data (domain adaptation, multitask, "
                                         "instance-weighting)."),
    teacher: str | None = typer.Option(None, help="Teacher model (distillation)."),
    unlabeled: str | None = typer.Option(None, help="Extra unlabeled data of the target's task, beside the "
                                            "unlabeled rest of the split (semi-supervised)."),
    resume: bool = typer.Option(False, help="Continue an interrupted run in --out."),
    overwrite: bool = typer.Option(False, help="Replace a finished run in --out."),
    budget: str | None = typer.Option(None, help="--strategy auto: a time (600, 10m, 1h) or memory (500MB, 2GB) "
                                         "the pick must fit."),
    config: Path | None = ConfigOpt,
) -> None:
    """Adapt a model to a data set with one strategy and evaluate it.

    Any engine, data/model or strategy option may follow, e.g. --epochs 20 --lr 3e-4 --layer-decay 0.7.

    The engine and data/model options are listed below; a strategy's own: graft list --options STRATEGY.
    """
    from graft.api import default_strategy
    from graft.api import fit as api_fit
    from graft.cli.config_file import apply_config_file, require
    from graft.cli.summary import print_run
    from graft.option_groups import check_unused, split_options, without_ignored
    from graft.strategies import STRATEGIES

    given = {"model": model[0] if model and len(model) == 1 else (model or None), "data": data, "strategy": strategy,
             "labels_per_class": labels_per_class, "seed": seed, "out": out, "source": source, "teacher": teacher,
             "unlabeled": unlabeled}
    typed = _extra_options(ctx)
    named, options = apply_config_file(ctx, config, given, typed)
    require(named, "model", "data")
    model, data, strategy, labels_per_class, seed, out, source, teacher, unlabeled = named.values()
    if strategy == "auto":  # the pick's options are checked when it is made
        options = {**options, **({"budget": budget} if budget is not None else {})}
        run = api_fit(model, data, "auto", labels_per_class=labels_per_class, seed=seed, out=out, source=source,
                      teacher=teacher, unlabeled=unlabeled, resume=resume, overwrite=overwrite, **options)
        out_console.print(f"auto: {run.metrics['auto_why']} (why: {Path(run.run_dir) / 'auto.md'})")
        print_run(out_console, run)
        return
    if isinstance(model, list) or budget is not None:
        what = "several --model values" if isinstance(model, list) else f"--budget {budget}"
        raise ConfigError(f"{what} given with --strategy {strategy or 'default'}; only --strategy auto ranks models "
                          "and fits a budget. Fix: pass --strategy auto, or one --model without --budget "
                          "(graft rank ranks models without training).")
    strategy = strategy or default_strategy(model, options)
    # Before the API: the command's own options join the candidates of "did you mean",
    # and options the strategy would ignore are refused (those the user typed; a run's
    # config.yaml records every engine option, used or not).
    strategy_cls = STRATEGIES.get(strategy)
    options = {**without_ignored(strategy_cls, options), **typed}
    check_unused(strategy_cls, split_options(strategy_cls, options, named=_named(ctx))[2])
    run = api_fit(model, data, strategy, labels_per_class=labels_per_class, seed=seed, out=out,
                  source=source, teacher=teacher, unlabeled=unlabeled, resume=resume, overwrite=overwrite,
                  **options)
    if hasattr(run, "runs"):  # --folds K: one run per fold, and their summary
        out_console.print(run.summary())
        out_console.print(f"Folds: {run.run_dir} (folds.csv, summary.md, fold-0 … fold-{len(run.runs) - 1})")
        return
    print_run(out_console, run)


@app.command(context_settings=EXTRA, cls=GeneratedOptionsCommand)
def pretrain(
    ctx: typer.Context,
    model: str = ModelOpt,
    data: str = DataOpt,
    out: Path | None = typer.Option(None, help="Run directory, usable afterwards as run:DIR."),
    method: str = typer.Option(
        "supervised", help="Pretraining method: supervised (labels), or simclr or rotation (no labels needed)."),
    seed: int = typer.Option(0),
) -> None:
    """Train a source model; use the result anywhere as --model run:DIR."""
    from graft.api import pretrain as api_pretrain
    from graft.cli.summary import print_run

    run = api_pretrain(model, data, out=out, method=method, seed=seed, **_extra_options(ctx))
    print_run(out_console, run)
    out_console.print(f"Use it as: --model run:{run.run_dir}")


@app.command(context_settings=EXTRA, cls=GeneratedOptionsCommand)
def compare(
    ctx: typer.Context,
    model: list[str] | None = typer.Option(None, "--model", "-m", help="Model spec; repeat for several (or "
                                              "model: in --config)."),
    data: str | None = DataOrFile,
    strategies: str = typer.Option("scratch,linear-probe,finetune", help="Comma-separated strategies; "
                                   "NAME:OPTION=VALUE gives one entry options of its own (dann,dann:mcc-weight=1)."),
    seeds: str = typer.Option("0,1,2", help="Comma-separated seeds."),
    labels_per_class: str | None = typer.Option(None, "--labels-per-class", "-k", help="K, or several: 5,10,all."),
    out: Path | None = typer.Option(
        None, help="Output directory (default: a new runs/compare-<model>-<data>-s<seed>-<time>)."),
    source: str | None = typer.Option(None, help="Labeled source data (domain adaptation)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an earlier comparison in --out: finished runs "
                                "are reused, interrupted ones continue from their last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier comparison in --out."),
    config: Path | None = ConfigOpt,
) -> None:
    """Compare strategies over seeds: results.csv, summary.md (mean ± std) and a chart."""
    from graft.api import compare as api_compare
    from graft.cli.config_file import apply_config_file, require
    from graft.cli.extra_args import parse_int_list, parse_k_list
    from graft.cli.summary import print_compare
    from graft.option_groups import split_options, strategy_entry, with_entry_options
    from graft.strategies import STRATEGIES

    given = {"model": model, "data": data, "strategies": strategies, "seeds": seeds,
             "labels_per_class": labels_per_class, "out": out, "source": source}
    named, options = apply_config_file(ctx, config, given, _extra_options(ctx),
                                       aliases={"strategy": "strategies", "seed": "seeds"},
                                       lists=("strategies", "seeds", "labels_per_class"))
    require(named, "model", "data")
    model, data, strategies, seeds, labels_per_class, out, source = named.values()
    model, out = [model] if isinstance(model, str) else model, Path(out) if out is not None else None
    names = [s.strip() for s in strategies.split(",") if s.strip()]
    for entry in names:  # a typo of a named option is suggested before any run starts
        name, own = strategy_entry(entry)
        if name != "auto":
            split_options(STRATEGIES.get(name), with_entry_options(options, own), named=_named(ctx))
    results = api_compare(model, data, names, seeds=parse_int_list(seeds, "--seeds"),
                          labels_per_class=parse_k_list(labels_per_class), out=out, source=source, resume=resume,
                          overwrite=overwrite, **options)
    print_compare(out_console, results, Path(results.attrs["out"]))


@app.command(context_settings=EXTRA, cls=GeneratedOptionsCommand)
def tune(
    ctx: typer.Context,
    model: str | None = ModelOrFile,
    data: str | None = DataOrFile,
    strategy: str | None = typer.Option(None, "--strategy", "-s", help="Strategy to tune (default as for fit)."),
    trials: int = typer.Option(20, help="Finished trials the study should hold (a continued study counts its own)."),
    timeout: float | None = typer.Option(None, help="Stop starting trials after this many seconds."),
    storage: str | None = typer.Option(
        None, help="Database URL Optuna supports (sqlite:///study.db): the study survives a crash, and processes "
                   "on several machines share it with the same --storage and --study."),
    study: str | None = typer.Option(None, help="Study name (default: from strategy, model, data and K)."),
    out: Path | None = typer.Option(
        None, help="Folder for tune.md, best.yaml, trials/ and best/ (default runs/STUDY)."),
    space: list[str] | None = typer.Option(
        None, help="KEY=LOW:HIGH[:log] changes or adds a searched range; repeat for several."),
    pruner: str = typer.Option("median", help="median (on the per-epoch validation value) or none."),
    labels_per_class: int | None = typer.Option(
        None, "--labels-per-class", "-k", help="Keep K labeled examples per class."),
    seed: int = typer.Option(0, help="Seed of every trial's run (and of the sampler without --storage)."),
    source: str | None = typer.Option(None, help="Labeled source data (domain adaptation, multitask)."),
    teacher: str | None = typer.Option(None, help="Teacher model (distillation)."),
    unlabeled: str | None = typer.Option(None, help="Extra unlabeled data of the target's task."),
    config: Path | None = ConfigOpt,
) -> None:
    """Search a strategy's options with Optuna on validation (label-free for domain adaptation).

    Any fit option may follow and is fixed for every trial (then not searched). The searched ranges
    are declared with the options: graft list --options STRATEGY. The test split is never searched
    on; the chosen configuration's test accuracy is reported once, at the end.
    """
    from graft.api import default_strategy
    from graft.api import tune as api_tune
    from graft.cli.config_file import apply_config_file, require
    from graft.cli.summary import print_tune
    from graft.option_groups import without_ignored
    from graft.strategies import STRATEGIES

    given = {"model": model, "data": data, "strategy": strategy, "trials": trials, "timeout": timeout,
             "storage": storage, "study": study, "out": out, "space": space, "pruner": pruner,
             "labels_per_class": labels_per_class, "seed": seed, "source": source, "teacher": teacher,
             "unlabeled": unlabeled}
    typed = _extra_options(ctx)
    named, options = apply_config_file(ctx, config, given, typed)
    require(named, "model", "data")
    (model, data, strategy, trials, timeout, storage, study, out, space, pruner, labels_per_class, seed, source,
     teacher, unlabeled) = named.values()
    strategy = strategy or default_strategy(model, options)
    options = {**without_ignored(STRATEGIES.get(strategy), options), **typed}  # as for fit
    result = api_tune(model, data, strategy=strategy, trials=trials,
                      timeout=timeout, storage=storage, study=study, out=out, space=space, pruner=pruner,
                      labels_per_class=labels_per_class, seed=seed, source=source, teacher=teacher,
                      unlabeled=unlabeled, **options)
    print_tune(out_console, result)


@app.command()
def predict(
    run: Path = typer.Option(..., "--run", help="A finished run directory, or an exported model.onnx."),
    data: str = DataOpt,
    out: str = typer.Option(
        "predictions.csv", help="CSV to write, or a folder (predictions.csv inside; a trailing / makes one)."),
    label_column: str | None = typer.Option(None, help="Label column of a table (default: the run's)."),
    text_column: str | None = typer.Option(None, help="Text column of a table (default: the run's)."),
    batch_size: int = typer.Option(256, min=1, help="Examples per forward pass."),
    tta: int | None = typer.Option(
        None, help="Fixed views averaged per image (0: off); default: the run's --tta. Torch engine only."),
    engine: str | None = typer.Option(
        None, help="torch (the run's PyTorch model) or onnx (onnxruntime; a run is exported to "
                   "RUN/export/model.onnx first); default torch for a run, onnx for a .onnx file."),
    device: str = typer.Option(
        "auto", help="Where the torch engine predicts: auto (a GPU when PyTorch sees one), cpu or cuda."),
) -> None:
    """Predict new data, labeled or not, with a finished run; writes a CSV of classes and probabilities.

    Any folder of images (flat or nested), a table with or without its label column (feature
    columns matched by name), an npz with only X. Labels, when present, give an accuracy line.
    """
    from graft.deploy.predict import predictor
    from graft.run import write_predictions

    if tta is not None and (engine == "onnx" or run.is_file()):
        raise ConfigError(f"--tta {tta} needs the torch engine: an exported graph holds the views of its run "
                          "(graft export bakes the run's --tta in). Fix: drop --tta, or pass --engine torch.")
    model, owner = predictor(run, engine, device)
    views = {} if tta is None else {"tta": tta}
    frame = model.predict(data, batch_size=batch_size, label_column=label_column, text_column=text_column, **views)
    path = write_predictions(frame, out, run_dir=owner)
    msg = f"Wrote {len(frame)} predictions to {path}"
    if frame.attrs.get("accuracy") is not None:
        msg += f" (accuracy against the data's labels: {frame.attrs['accuracy']:.3f} on {frame['label'].notna().sum()})"
    out_console.print(msg, soft_wrap=True, highlight=False)


@app.command("export")
def export_(
    run: Path = typer.Option(..., "--run", help="A finished run directory."),
    format: str = typer.Option("onnx", "--format", "-f", help="onnx or torchscript."),
    out: str | None = typer.Option(
        None, help="File to write, or a folder (model.onnx inside; a trailing / makes one); default RUN/export/."),
    opset: int | None = typer.Option(None, help="ONNX opset version (11-20; default 18)."),
    tolerance: float = typer.Option(
        1e-4, help="Allowed max |logit difference| to PyTorch, relative to max(1, max |logit|)."),
) -> None:
    """Export a run's model to ONNX or TorchScript, checked against PyTorch on other batch sizes.

    A sidecar JSON next to the file holds what inference needs (input size, normalisation or
    tokenizer, classes, the run's input schema); graft predict --run model.onnx uses it.
    """
    from graft.api import export as api_export

    result = api_export(run, format, out=out, opset=opset, tolerance=tolerance)
    out_console.print(
        f"Exported {result.format} to {result.path} (sidecar {result.sidecar.name}); parity with PyTorch on "
        f"{', '.join(result.shapes)}: max |Δlogit| = {result.max_abs_diff:.2g} (allowed {result.limit:.2g})",
        soft_wrap=True, highlight=False)


@app.command("shift")
def shift_(
    model: str = ModelOpt,
    source: str = typer.Option(..., "--source", help="Source data spec."),
    data: str = DataOpt,
    out: Path | None = typer.Option(None, help="Folder for shift.json and a t-SNE plot."),
    image_size: int | None = typer.Option(None, help="Input size of image models."),
    pretrained: bool = typer.Option(True, help="Load pretrained weights."),
    seed: int = typer.Option(0),
) -> None:
    """How different is my new data? Proxy A-distance and MMD through a model; no training."""
    from graft.api import shift as api_shift
    from graft.cli.summary import print_shift

    print_shift(out_console, api_shift(model, source, data, out=out, image_size=image_size,
                                       pretrained=pretrained, seed=seed), out)


@app.command(context_settings=EXTRA, cls=GeneratedOptionsCommand)
def rank(
    ctx: typer.Context,
    model: list[str] | None = typer.Option(
        None, "--model", "-m", help="Model spec; repeat for several. SPEC?pooling=cls or SPEC?pretrained=false "
                                    "sets one model's own options."),
    data: str = DataOpt,
    models_file: Path | None = typer.Option(None, "--models-file", help="A file with one model spec per line."),
    labels_per_class: int | None = typer.Option(
        None, "--labels-per-class", "-k", help="Score on K labeled examples per class (those fit would train on)."),
    scores: str | None = typer.Option(
        None, help="Comma-separated scores (default: all): logme, leep, nce, nleep, hscore, shrinkage-hscore, gbc, "
                   "transrate, sfda, knn, linear."),
    out: Path = typer.Option(Path("runs/rank"), help="Folder for rank.csv, rank.md and plots/rank.png."),
    verify: int = typer.Option(
        0, help="Fine-tune the top N with the default strategy and check each score against their accuracy."),
    seed: int = typer.Option(0, help="Seed of the labeled subset and of random-init models."),
    batch_size: int = typer.Option(256, help="Examples per forward pass of feature extraction."),
    resume: bool = typer.Option(False, "--resume", help="With --verify: reuse the finished fine-tunes of an "
                                "earlier ranking in --out, continue interrupted ones."),
    overwrite: bool = typer.Option(False, "--overwrite", help="With --verify: replace an earlier ranking's "
                                   "fine-tunes in --out."),
) -> None:
    """Which model to start from? Transferability scores of each model on the training split, no training.

    Data and model options (--image-size, --split-seed ...) apply to every model; with --verify,
    engine options (--epochs ...) shape the fine-tuning.
    """
    from graft.api import rank as api_rank
    from graft.cli.rank_view import print_rank

    options = _extra_options(ctx)
    progress = str(options.pop("progress", "true")).lower() not in ("false", "0", "no", "off")
    result = api_rank(model, data, labels_per_class=labels_per_class, scores=scores, out=out,
                      models_file=models_file, verify=verify, seed=seed, batch_size=batch_size,
                      progress=progress, resume=resume, overwrite=overwrite, **options)
    print_rank(out_console, result, out)


@app.command("list")
def list_(
    options: str | None = typer.Option(
        None, "--options", help="Show the options of one strategy (or pretraining method)."),
) -> None:
    """List strategies, built-in models and built-in data sets."""
    from graft.cli.summary import print_listing, print_options

    if options:
        print_options(out_console, options)
    else:
        print_listing(out_console)


@app.command(context_settings=EXTRA)
def demo(
    ctx: typer.Context,
    out: Path = typer.Option(Path("runs/demo"), help="Output directory."),
    seeds: str = typer.Option("0,1", help="Comma-separated seeds (0,1,2 for the full benchmark)."),
    quick: bool = typer.Option(False, help="A smaller demo (one K, fewer epochs) for a smoke test."),
) -> None:
    """Pretrain LeNet on MNIST-5k, transfer it and EfficientNet-Lite0 to digits, report."""
    from graft.cli.extra_args import parse_int_list
    from graft.demo import run_demo

    # The demo trains without progress output anyway (so --quiet adds nothing here).
    report = run_demo(out, seeds=parse_int_list(seeds, "--seeds"), quick=quick, **parse_extra_args(ctx.args))
    out_console.print(f"\nReport: {report}")


_python_showwarning = __import__("warnings").showwarning
_NOTES_SHOWN: set[str] = set()
#: Notes said while a command checks its inputs; printed once its work starts, dropped if a mistake ends it.
_HELD: list[str] | None = None


def _release_notes() -> None:
    global _HELD
    held, _HELD = _HELD or [], None
    for message in held:
        console.print(f"note: {message}", highlight=False, soft_wrap=True)


def _show_note(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
               line: str | None = None) -> None:
    """graft's notes as one ``note:`` line; other warnings as Python shows them."""
    from graft.notes import GraftNote

    if issubclass(category, GraftNote):
        if str(message) not in _NOTES_SHOWN:  # a compare of 24 runs says a thing once
            _NOTES_SHOWN.add(str(message))
            if _HELD is not None:  # the command is still checking its inputs
                _HELD.append(str(message))
            else:
                console.print(f"note: {message}", highlight=False, soft_wrap=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes end in one line and exit code 2, no traceback."""
    import warnings

    global _HELD
    from graft.notes import on_work_started

    warnings.showwarning = _show_note
    _NOTES_SHOWN.clear()
    _HELD = []
    on_work_started(_release_notes)
    try:
        from graft.warnings_filter import quiet_third_party

        with quiet_third_party():
            code = app(args=argv, standalone_mode=False)
        if code == 130:  # the parser turns Ctrl-C into exit code 130
            console.print("interrupted: rerun the same command with --resume to continue from the last epoch")
        _release_notes()
        if isinstance(code, int) and code:
            sys.exit(code)
    except GraftError as err:
        _HELD = None  # the mistake is the one line; its notes were about a run that does not start
        console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        _release_notes()
        console.print("interrupted: rerun the same command with --resume to continue from the last epoch")
        sys.exit(130)
    except Exception as err:  # the CLI parser's own usage errors
        message = getattr(err, "format_message", None)
        if callable(message) and getattr(err, "exit_code", None) == 2:  # a usage error: one line, as graft's
            _HELD = None
            where = err.ctx.command_path if getattr(err, "ctx", None) else "graft"  # type: ignore[attr-defined]
            text = str(message()).rstrip(".")
            if not text:  # no command given: the help was the answer
                sys.exit(0)
            text += "" if text.endswith("?") else "."
            console.print(f"[bold red]error:[/] {text} Fix: see '{where} --help' for what it takes.",
                          highlight=False, soft_wrap=True)
            sys.exit(2)
        _release_notes()
        if hasattr(err, "exit_code") and hasattr(err, "show"):
            err.show()
            sys.exit(err.exit_code)
        if type(err).__name__ == "Abort":
            console.print("interrupted: rerun the same command with --resume to continue from the last epoch")
            sys.exit(130)
        raise


