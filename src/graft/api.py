"""graft's Python API; the CLI is a thin shell over these functions.

Example:
    >>> import graft
    >>> run = graft.fit("builtin:lenet", "builtin:digits", strategy="scratch",
    ...                 labels_per_class=10, epochs=5, out="runs/lenet")  # doctest: +SKIP
    >>> run.metrics["test_accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import contextvars
import dataclasses
import itertools
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from graft.continuation import refuse_resume_with_overwrite
from graft.data.base import dataset_size
from graft.engine.config import TrainConfig
from graft.engine.evaluate import predict_logits, to_cpu
from graft.engine.memory import peak_memory_mb
from graft.engine.ranks import is_main_process
from graft.errors import CheckpointError, ConfigError, GraftError
from graft.models.test_time import checked_views, refuse_views_for, with_views
from graft.notes import work_started
from graft.options import build_config, check_seeds
from graft.run import Run
from graft.run_dir import check_out_folder, default_run_dir, start_run_dir, write_history, write_metrics
from graft.run_options import RUN_OPTIONS, RunOptions
from graft.streams import build_streams, plan_splits, takes_unlabeled

if TYPE_CHECKING:
    from graft.models.spec import GraftModel

DataLike = Any  # a spec string, a DataSource, (x, y) arrays or a torch Dataset
ModelLike = str | nn.Module




def _quietly(func: Any) -> Any:
    """Run ``func`` with third-party warnings that mean nothing to a user hidden (by name)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from graft.warnings_filter import quiet_third_party

        with quiet_third_party():
            return func(*args, **kwargs)

    return wrapper


@_quietly
def fit(
    model: ModelLike,
    data: DataLike,
    y: Any = None,
    *,
    strategy: str | None = None,
    labels_per_class: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    source: DataLike | None = None,
    teacher: ModelLike | None = None,
    unlabeled: DataLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    **options: Any,
) -> Run:
    """Adapt ``model`` to ``data`` with ``strategy``, evaluate it, write a run directory.

    Args:
        model: A model spec (``timm:resnet18``, ``builtin:lenet``, ``run:DIR``,
            ``file:PATH`` with ``arch=``) or an ``nn.Module`` (not mutated).
        data: The target data: a spec (``builtin:digits``, ``folder:PATH``,
            ``csv:PATH``, ``npz:PATH``), a DataSource, ``(x, y)`` arrays, a Dataset, or
            ``x`` alone with its labels as ``y`` (scikit-learn style: ``fit(model, X, y)``).
        y: Labels of ``data`` when it is an array, DataFrame or list of texts. A string
            here is taken as the strategy's name (``fit(model, data, "finetune")``).
        strategy: A registered strategy name (``graft.list_strategies()``); by default
            ``finetune``, or ``scratch`` for a model without pretrained weights
            (:func:`default_strategy`).
        labels_per_class: Keep K labeled training examples per class.
        seed: Seeds the labeled subset, initialisation, shuffling and dropout.
        out: The run directory; default ``runs/<strategy>-<model>-<data>-s<seed>-<time>``.
        source: Labeled source data, for strategies that need it (domain adaptation).
        teacher: A trained model, for strategies that need it (distillation).
        unlabeled: Extra unlabeled data of the target's task (any labels in it are ignored),
            added to the unlabeled rest of the training split for strategies that learn
            from unlabeled examples (``semi-supervised``).
        resume: Continue an interrupted run in ``out`` from its last checkpoint.
        overwrite: Replace a finished run in ``out``.
        **options: Engine options (``epochs``, ``lr``, ``batch_size``, ``schedule``, ...),
            the strategy's options (``layer_decay``, ``head``, ...) and data/model options
            (``split_seed``, ``test_fraction``, ``val_fraction``, ``image_size``,
            ``pretrained``, ``arch``, ``label_column``, ``feature_columns``).

    Returns:
        The finished run: ``run.metrics``, ``run.model``, ``run.predict(data)``.

    Example:
        >>> run = graft.fit("builtin:mlp", X, y, strategy="scratch", epochs=30)  # doctest: +SKIP
    """
    check_seeds([seed])
    refuse_resume_with_overwrite(resume, overwrite, "run")
    if isinstance(y, str):
        if strategy is not None and strategy != y:
            raise ConfigError(f"fit() got the strategy twice: '{y}' as the third argument and strategy='{strategy}'. "
                              "Fix: pass it once, e.g. graft.fit(model, data, strategy=...).")
        strategy, y = y, None
    if strategy is None:
        strategy = default_strategy(model, options)
    if y is not None:
        if isinstance(data, (str, Path, tuple)):
            raise ConfigError(
                f"fit() got labels y together with the data {type(data).__name__} {str(data)[:60]!r}, which "
                "brings its own labels. Fix: pass y only with arrays, a DataFrame or a list of texts."
            )
        data = (data, y)
    if strategy == "auto":
        return _fit_auto(model, data, labels_per_class=labels_per_class, seed=seed, out=out, source=source,
                         teacher=teacher, unlabeled=unlabeled, resume=resume, overwrite=overwrite, options=options)
    if int(options.get("folds") or 0) > 1 and options.get("fold") is None:
        from graft.folds import fit_folds

        return fit_folds(fit, model, data, strategy=strategy, labels_per_class=labels_per_class, seed=seed, out=out,
                         source=source, teacher=teacher, unlabeled=unlabeled, resume=resume, overwrite=overwrite,
                         options=options)  # type: ignore[return-value]
    from graft.data import load_source
    from graft.data.schema import InputSchema
    from graft.models import DataInfo, build_model, save_model
    from graft.report import classification_metrics, write_run_report
    from graft.strategies import STRATEGIES, FitContext

    strategy_cls = STRATEGIES.get(strategy)
    from graft.option_groups import check_unused, split_options

    run_opts, strat_opts, train_opts = split_options(
        strategy_cls, options,
        named=("labels_per_class", "seed", "out", "source", "teacher", "unlabeled", "resume", "overwrite"))
    run_cfg = build_config(RunOptions, run_opts, "graft fit")
    if strategy_cls.anchors_pretrained and default_strategy(model, {"pretrained": run_cfg.pretrained}) == "scratch":
        why, fix = (("--no-pretrained builds it", "drop --no-pretrained, or use") if not run_cfg.pretrained else
                    (f"'{model}' has", "pass a model with pretrained weights (graft list), or use"))
        raise ConfigError(
            f"The '{strategy}' strategy pulls the model toward its pretrained weights or features, but "
            f"{why} random ones: the pull would hold the model near noise. Allowed: a pretrained model. "
            f"Fix: {fix} --strategy scratch for random weights."
        )
    strategy_cfg = build_config(strategy_cls.Config, strat_opts, f"strategy '{strategy}'")
    needs = strategy_cls.needs_for(strategy_cfg)
    train_cfg = _engine_config(strategy_cls, train_opts)  # checked before any data loads
    check_unused(strategy_cls, train_opts)
    if labels_per_class is not None and labels_per_class < 1:
        raise ConfigError(f"--labels-per-class must be >= 1. Got {labels_per_class} instead. "
                          "Fix: pass e.g. --labels-per-class 10, or leave it out to use every label.")
    _check_needs(strategy, needs, source=source, teacher=teacher, unlabeled=unlabeled)
    # Mistakes that need no data are caught before any data loads.
    from graft.models import check_model_spec
    from graft.run_dir import check_run_dir

    if isinstance(model, str):
        check_model_spec(model)
    if teacher is not None:  # loaded whole, before any data: its head is the point
        from graft.teachers import load_teacher

        teacher_net, teacher_schema, teacher_name = load_teacher(teacher)
    if out is not None and not resume and is_main_process():
        check_run_dir(Path(out), resume=resume, overwrite=overwrite)
    if resume and out is not None:
        _check_resumable(Path(out))

    label_opts = run_cfg.load_options()
    adapting = "target" in needs  # the target is used without labels: it may have none
    target = load_source(data, **label_opts, require_labels=not adapting)
    src = load_source(source, **label_opts) if source is not None else None
    extra = load_source(unlabeled, **label_opts, require_labels=False) if unlabeled is not None else None
    if adapting and src is not None and not (target.y >= 0).any():
        target = _as_unlabeled_target(target, src)
    if strategy_cls.kind_train_defaults.get(target.kind):  # e.g. domain adaptation of a text encoder
        train_cfg = _engine_config(strategy_cls, train_opts, target.kind)  # the model takes the data's kind
    plan = plan_splits(needs, target, src, train_cfg, seed=seed, split_seed=run_cfg.split_seed,
                       test_fraction=run_cfg.test_fraction, val_fraction=run_cfg.val_fraction,
                       labels_per_class=labels_per_class, fold=run_cfg.split_fold(),
                       target_val=strategy_cls.held_out_target(strategy_cfg))
    missing = int((np.asarray(target.y) < 0).sum())
    if missing and not adapting and not takes_unlabeled(needs) and (target.y >= 0).any():
        from graft.notes import note

        note(f"{missing} row(s) of {target.name} have no label; {strategy} trains on the labeled rows only. "
             "Fix: to learn from them too, use --strategy semi-supervised (or linear-probe --self-train-rounds).")
    # What the run learns from its data (table preprocessing, pixel rule, classes) is fitted on
    # the training rows only and saved with the model, so prediction reads new data the same way.
    if plan.labeled_source and src is not None:
        _check_source_classes(strategy, strategy_cls.same_classes, src, target)
    schema = InputSchema.fit(plan.training_rows(target, src), predicted=target)
    raw_target, raw_extra = target, extra
    target = schema.apply(target)
    src = schema.apply(src) if src is not None else None
    extra = schema.apply(extra) if extra is not None else None
    info = DataInfo.from_source(target)
    torch.manual_seed(seed)  # random initialisation depends on the seed only
    net = build_model(model, info, run_cfg.model_options())
    refuse_views_for(net.spec.input.kind, run_cfg.tta)
    teacher_view = None
    if teacher is not None:
        from graft.teachers import check_teacher, teacher_inputs

        check_teacher(teacher_net, teacher_name, target)
        teacher_view = teacher_inputs(teacher_net, teacher_schema, raw_target, target, raw_extra, extra)
    streams = build_streams(plan, target, src, net.spec.input, train_cfg,
                            unlabeled=takes_unlabeled(needs), unlabeled_in_loop="unlabeled" in needs,
                            extra_unlabeled=extra,
                            require_unlabeled=strategy_cls.requires_unlabeled, teacher=teacher_view)
    splits = streams.splits
    strategy_obj = strategy_cls(strategy_cfg)
    # Data the strategy cannot use is refused before the run directory is written.
    strategy_obj.check(net, streams.plain_train if streams.plain_train is not None else streams.train)

    model_name = model if isinstance(model, str) else type(model).__name__
    data_name = target.name
    run_dir = Path(out) if out is not None else default_run_dir(strategy, model_name, data_name, seed)
    if resume:
        _check_resumable(run_dir)
    config = {
        "strategy": strategy, "model": model_name, "data": data_name,
        "source": src.name if src is not None else None, "seed": seed,
        "labels_per_class": labels_per_class, **dataclasses.asdict(run_cfg),
        "strategy_options": dataclasses.asdict(strategy_cfg),
        "train": dataclasses.asdict(train_cfg),
        "input_schema": schema.describe(net.spec.input),
        **({"auto": auto} if (auto := _AUTO_CHOICE.get()) is not None else {}),
    }
    existed, fresh = run_dir.exists(), not run_dir.exists() or not any(run_dir.iterdir())
    start_run_dir(run_dir, config, resume=resume, overwrite=overwrite)
    work_started()

    torch.manual_seed(seed)
    np.random.seed(seed)
    teacher_model = teacher_net if teacher is not None else None
    extras: dict[str, Any] = {"target_plain": streams.target_plain, "splits": splits}
    if teacher_view is not None:  # the teacher's own view of the test split, for its figures
        from graft.data import make_dataset

        extras["teacher_test"] = make_dataset(teacher_view.target, splits.test, teacher_view.spec)
    ctx = FitContext(model=net, train=streams.train, val=streams.val, train_config=train_cfg, seed=seed,
                     run_dir=run_dir, resume=resume, target=streams.target, teacher=teacher_model,
                     plain_train=streams.plain_train, source_val=streams.source_val,
                     oracle=streams.test if dataset_size(streams.test) else None,
                     source=streams.source, source_plain=streams.source_plain,
                     source_classes=list(src.classes) if src is not None else [],
                     extras=extras)
    measure = src is not None and run_cfg.shift_report
    t0 = time.perf_counter()
    try:
        shift_before = _shift_before(net, streams, run_dir, resume) if measure else {}
        result = strategy_obj.fit(ctx)
    except GraftError:
        # A mistake found once training began (a --monitor the first epoch did not compute): a run
        # directory this call created and that holds no checkpoint to resume from is removed.
        from graft.engine.checkpoint import resumable

        if fresh and is_main_process() and not resumable(run_dir):
            for child in list(run_dir.iterdir()) if existed else [run_dir]:  # a given empty folder stays
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        raise
    seconds = result.seconds or (time.perf_counter() - t0)

    views, view_checks = (checked_views(net, streams.val, run_cfg.tta) if run_cfg.tta_check else (run_cfg.tta, {}))
    if dataset_size(streams.test):
        logits, y_test, _ = predict_logits(with_views(net, views), streams.test)
        scores = classification_metrics(y_test.numpy(), logits.argmax(1).numpy(), target.num_classes)
        if run_cfg.tta:  # the single-view figure beside it, so the views' gain is on record
            single = predict_logits(net, streams.test)[0] if views else logits
            scores["single_view_accuracy"] = float((single.argmax(1) == y_test).double().mean())
    else:  # an unlabeled target: nothing to score, and the report says so
        scores = {"accuracy": None, "macro_f1": None, "confusion": None}
    val_acc = _val_accuracy(result)
    metrics: dict[str, Any] = {
        "strategy": strategy, "model": model_name, "data": data_name, "seed": seed,
        "labels_per_class": labels_per_class,
        "n_train_labeled": streams.n_train_labeled, "n_val": len(splits.val), "n_test": len(splits.test),
        "test_accuracy": scores["accuracy"], "test_macro_f1": scores["macro_f1"],
        "val_accuracy": val_acc, "selected_by": result.selected_by,
        "selected_epoch": result.best_epoch,
        "trainable_params": result.trainable_params if result.trainable_params is not None
        else _count(net, trainable=True),
        "total_params": _count(net),
        "train_seconds": seconds,
        "peak_memory_mb": result.peak_memory_mb if result.peak_memory_mb is not None else peak_memory_mb(),
        "epochs_run": result.epochs_run,
        **_oracle(result.history),
        **({"tta": run_cfg.tta, "tta_used": views, "test_accuracy_single_view": scores.get("single_view_accuracy"),
            **view_checks} if run_cfg.tta else {}),
        **result.extra_metrics,
        **shift_before,
        **(_shift(net, streams, run_dir, "after") if measure else {}),
    }
    if not is_main_process():
        return Run(run_dir, to_cpu(net), metrics, config, result.history, schema)
    from graft.models.cost import model_cost

    metrics.update(model_cost(net, net.spec.input))
    save_model(net, run_dir / "model")
    schema.save(run_dir / "model")
    write_history(run_dir, result.history)
    write_run_report(run_dir, metrics, config, result.history, scores["confusion"], target.classes)
    write_metrics(run_dir, {**metrics, "confusion": scores["confusion"], "classes": target.classes})
    ckpt = run_dir / "checkpoints"
    if ckpt.exists():
        shutil.rmtree(ckpt)
    return Run(run_dir, to_cpu(net), metrics, config, result.history, schema)


#: The choice of ``strategy="auto"`` being run: recorded in the run's config.yaml, so that
#: ``--resume`` continues with it instead of measuring again.
_AUTO_CHOICE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("graft_auto_choice",
                                                                                    default=None)


def _fit_auto(model: Any, data: Any, *, labels_per_class: int | None, seed: int, out: Any, source: Any,
              teacher: Any, unlabeled: Any, resume: bool, overwrite: bool, options: dict[str, Any]) -> Run:
    """``strategy="auto"``: measure, pick by :data:`graft.auto.RULES`, run the pick, write auto.md."""
    import json

    from graft.auto import choose, recorded_choice, write_auto_md
    from graft.notes import note
    from graft.option_groups import without_ignored
    from graft.strategies import STRATEGIES

    if teacher is not None:
        raise ConfigError("--strategy auto does not distil (a teacher was given). Fix: pass --strategy distill.")
    options = dict(options)
    budget = options.pop("budget", None)
    folding = ("folds", "fold", "fold_scope")  # auto measures on one split; the pick then runs every fold
    choice = recorded_choice(out) if resume else None
    if choice is not None:
        note(f"auto: resuming with the choice recorded in {Path(out) / 'config.yaml'} (not measured again).")
    else:
        choice = choose(model, data, source=source, unlabeled=unlabeled, labels_per_class=labels_per_class,
                        seed=seed, budget=budget,
                        options={k: v for k, v in options.items() if k.replace("-", "_") not in folding})
    recorded = choice.to_dict()  # before the notes below, which a resumed run adds again
    picked = STRATEGIES.get(choice.strategy)
    from graft.option_groups import split_options

    _, picked_opts, _ = split_options(picked, {**choice.options, **without_ignored(picked, options)}, named=())
    needs = picked.needs_for(build_config(picked.Config, picked_opts, f"strategy '{choice.strategy}'"))
    dropped = sorted(set(options) - set(without_ignored(picked, options)))
    if dropped:  # meant for a strategy that trains in the loop, as in compare
        choice.notes.append(f"'{choice.strategy}' does not train in the engine's loop: "
                            f"{', '.join('--' + d.replace('_', '-') for d in dropped)} not used.")
        options = without_ignored(picked, options)
    if source is not None and "source" not in needs:
        choice.notes.append("The source's knowledge enters through the model's weights (pass the run trained on it "
                            f"as --model run:DIR); '{choice.strategy}' trains on the target only.")
        source = None
    if unlabeled is not None and not takes_unlabeled(needs):
        choice.notes.append(f"'{choice.strategy}' does not learn from unlabeled data: --unlabeled is not used.")
        unlabeled = None
    note(f"auto: {choice.why()}")
    token = _AUTO_CHOICE.set(recorded)
    try:
        run = fit(choice.model, data, strategy=choice.strategy, labels_per_class=labels_per_class, seed=seed,
                  out=out, source=source, unlabeled=unlabeled, resume=resume, overwrite=overwrite,
                  **{**choice.options, **options})
    finally:
        _AUTO_CHOICE.reset(token)
    auto = {"auto_rule": choice.rule.name, "auto_strategy": choice.strategy, "auto_why": choice.why()}
    if is_main_process():
        write_auto_md(run.run_dir, choice)
        for one in getattr(run, "runs", [run]):  # cross-validation: every fold's run records the pick
            path = Path(one.run_dir) / "metrics.json"
            saved = json.loads(path.read_text(encoding="utf-8"))
            write_metrics(one.run_dir, {**saved, **auto})
            one.metrics.update(auto)
    run.metrics.update(auto)
    return run


def default_strategy(model: ModelLike, options: dict[str, Any] | None = None) -> str:
    """``finetune`` for a pretrained model; ``scratch`` for one with random weights only
    (``builtin:mlp``, ``builtin:lenet``, ``--no-pretrained``): fine-tuning random weights
    would only add a probe fitted on random features (B11: digits as a table 0.950 vs 0.962)."""
    from graft.models.builtin import RANDOM_INIT

    options = options or {}
    pretrained = str(options.get("pretrained", True)).lower() not in ("false", "0", "no", "off")
    if isinstance(model, str) and (not pretrained or (
            model.startswith("builtin:") and model.split(":", 1)[1] in RANDOM_INIT)):
        return "scratch"
    return "finetune"


def compare(
    model: ModelLike | Sequence[ModelLike],
    data: DataLike,
    strategies: Sequence[str] = ("scratch", "linear-probe", "finetune"),
    *,
    seeds: Sequence[int] = (0, 1, 2),
    labels_per_class: int | Sequence[int | None] | None = None,
    out: str | Path | None = None,
    source: DataLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    **options: Any,
) -> Any:
    """Run every model × strategy × K × seed and write results.csv, summary.md and a chart.

    A strategy may carry options of its own, ``NAME:OPTION=VALUE[:OPTION=VALUE...]`` (``"dann:mcc-weight=1"``
    beside ``"dann"``): they join ``options`` for that entry alone, and its rows and runs are named by the entry.

    ``out`` defaults to a new ``runs/compare-<model>-<data>-<time>`` folder. An ``out`` that holds
    an earlier comparison is refused unless ``resume`` (its finished runs are
    reused once their recorded options are checked, interrupted ones continue from their last
    checkpoint, the rest are trained) or ``overwrite`` (its runs are replaced).

    Returns:
        A pandas DataFrame with one row per run; ``results.attrs["out"]`` is the folder written.
    """
    import pandas as pd

    from graft.data import load_source
    from graft.option_groups import split_options, strategy_entry, with_entry_options, without_ignored
    from graft.report import write_compare_outputs
    from graft.strategies import STRATEGIES

    seeds = check_seeds(seeds, "--seeds")
    if not strategies:
        raise ConfigError("The '--strategies' option names no strategy. Allowed: the names graft list shows. Fix: "
                          "pass e.g. --strategies linear-probe,finetune.")
    from graft.continuation import (
        COMPARISON_MARKERS,
        check_comparison,
        check_earlier,
        check_resume_flags,
        continue_run,
        remove_leftovers,
        write_comparison,
    )
    from graft.run_dir import default_run_dir

    models = [model] if isinstance(model, (str, nn.Module)) else list(model)
    if not models:
        raise ConfigError("compare() got no model. Allowed: one or more model specs or modules. Fix: pass e.g. "
                          "--model builtin:lenet (repeat --model for several).")
    check_resume_flags(resume, overwrite, out, "comparison")
    if out is None:
        first = models[0] if isinstance(models[0], str) else type(models[0]).__name__
        out = default_run_dir("compare", first, data if isinstance(data, str) else "data", seeds[0])
    check_out_folder(out)
    # under DDP a later rank finds rank 0's files: this comparison's own
    earlier = is_main_process() and check_earlier(Path(out), COMPARISON_MARKERS, what="comparison", resume=resume,
                                                  overwrite=overwrite)
    ks = list(labels_per_class) if isinstance(labels_per_class, (list, tuple)) else [labels_per_class]
    entries = [(entry, *strategy_entry(entry)) for entry in strategies]  # dann:mcc-weight=1: its own options
    for entry, name, own in entries:
        if name == "auto" and own:
            raise ConfigError(f"The strategy 'auto' in --strategies takes no options of its own: auto picks a strategy "
                              f"and its options itself. Got '{entry}'. Allowed: auto alone, or a strategy with its "
                              "options (dann:mcc-weight=1). Fix: drop the options after auto.")
        if name != "auto":  # auto picks one per cell and checks its options then
            split_options(STRATEGIES.get(name), own)  # a typo in an entry's own options, before any run
    label_opts = build_config(
        RunOptions, {k: v for k, v in options.items() if k.replace("-", "_") in RUN_OPTIONS}, "graft compare"
    ).load_options()
    data_src = load_source(data, **label_opts)
    source_src = load_source(source, **label_opts) if source is not None else None
    out = Path(out)
    identity = {"data": data_src.name, "source": source_src.name if source_src is not None else None,
                "options": dict(options)}
    check_comparison(out, identity, resume=resume)
    if is_main_process() and not (resume and earlier):
        write_comparison(out, identity)
    rows, tags = [], []
    total, done = len(models) * len(ks) * len(entries) * len(seeds), 0
    shorts = [_short(m) for m in models]
    from graft.strategies.reference_cache import reusing_references

    # The DA entries of one model, K and seed train the same source-only reference: the first saves it, the
    # others load it (strategies/reference_cache.py).
    if overwrite and earlier and is_main_process():  # references an earlier graft may have trained
        shutil.rmtree(out / "references", ignore_errors=True)
    with reusing_references(out / "references"):
        for (i, m), k, (entry, name, own), seed in itertools.product(enumerate(models), ks, entries, seeds):
            short = shorts[i] if shorts.count(shorts[i]) == 1 else f"{shorts[i]}{i + 1}"  # hf:a/bert, hf:b/bert
            needs_source = name == "auto" or "source" in STRATEGIES.get(name).needs
            tag = short + (f"-k{k}" if k is not None else "") + f"-{entry.replace(':', '+')}-s{seed}"
            tags.append(tag)
            done += 1
            if str(options.get("progress", True)).lower() not in ("false", "0", "no", "off"):
                # A logged compare shows which run the per-epoch lines belong to.
                print(f"run {done}/{total}: {tag}", file=sys.stderr, flush=True)
            given = options if name == "auto" else without_ignored(STRATEGIES.get(name),
                                                                    with_entry_options(options, own))
            run = continue_run(fit, out / "runs" / tag, m, data_src, resume=resume, strategy=name,
                               labels_per_class=k, seed=seed, source=source_src if needs_source else None, **given)
            # auto's row keeps its name (the pick is in auto_strategy); --folds gives a row per fold
            for f, one in enumerate(getattr(run, "runs", [run])):
                fold = {"fold": f} if hasattr(run, "runs") else {}
                metrics = {key: v for key, v in one.metrics.items() if key not in ("confusion", "classes")}
                rows.append({**metrics, "run_dir": str(one.run_dir), "strategy": entry, **fold})
    if overwrite and earlier:  # its runs this comparison did not replace
        remove_leftovers(out / "runs", tags)
    results = pd.DataFrame(rows)
    results.attrs["out"] = str(out)  # where results.csv and summary.md are
    if is_main_process():
        write_compare_outputs(results, out, metrics=compare_metrics(results))
    return results


def compare_metrics(results: Any) -> tuple[str, ...]:
    """The columns a comparison summarises: the label-free pick next to the oracle when present, and beside them
    the validation accuracy where labeled examples selected it (domain adaptation's ``--target-val``)."""
    oracle = "oracle_test_accuracy" in results
    wanted = ("test_accuracy", *(("val_accuracy",) if oracle else ()), "oracle_test_accuracy", "test_macro_f1",
              "train_seconds")
    return tuple(c for c in wanted if c in results and results[c].notna().any())


@_quietly
def tune(
    model: ModelLike,
    data: DataLike,
    *,
    strategy: str | None = None,
    trials: int = 20,
    timeout: float | None = None,
    storage: str | None = None,
    study: str | None = None,
    out: str | Path | None = None,
    space: Sequence[str] | dict[str, Any] | None = None,
    labels_per_class: int | None = None,
    seed: int = 0,
    source: DataLike | None = None,
    teacher: ModelLike | None = None,
    unlabeled: DataLike | None = None,
    pruner: Any = "median",
    sampler: Any = None,
    **options: Any,
) -> Any:
    """Search a strategy's options with Optuna, scored on validation, never on the test split.

    The space is the union of the ranges the engine and the strategy declare next to their
    options (``graft list --options STRATEGY`` shows them), less the options passed here; each
    trial is a :func:`fit` run in ``OUT/trials/NNN``. See :mod:`graft.tuning`.

    Args:
        model: As for :func:`fit`.
        data: As for :func:`fit`.
        strategy: A registered strategy; by default as for :func:`fit`.
        trials: Finished (complete or pruned) trials the study should hold; a continued study
            counts the ones it has.
        timeout: Stop starting trials after this many seconds.
        storage: A database URL Optuna supports (``sqlite:///study.db``): the study survives a
            crash and several processes or machines share it. None: in memory.
        study: The study's name; by default one derived from strategy, model, data and K, so the
            same call continues the same study.
        out: The tune directory; default ``runs/<study>``.
        space: Changed or added ranges: ``["lr=1e-4:1e-2:log"]`` or ``{"lr": (1e-4, 1e-2, "log")}``.
        labels_per_class: As for :func:`fit`.
        seed: Seed of every trial's run (and of the sampler, in memory).
        source: As for :func:`fit`.
        teacher: As for :func:`fit`.
        unlabeled: As for :func:`fit`.
        pruner: ``"median"`` (on the per-epoch validation value), ``"none"``, or an Optuna pruner.
        sampler: An Optuna sampler; default TPE.
        **options: Options fixed for every trial, as for :func:`fit`.

    Returns:
        A :class:`~graft.tuning.TuneResult`: ``best_params``, ``best_value``, ``best_run_dir``,
        ``test`` (the best run's test figures, reported once), ``study``, ``table()``.

    Example:
        >>> result = graft.tune("builtin:lenet", "builtin:digits", strategy="scratch", trials=8,
        ...                     epochs=10, out="runs/tune")  # doctest: +SKIP
        >>> result.best_params  # doctest: +SKIP
    """
    from graft.tuning import run_tune

    check_seeds([seed])
    check_out_folder(out)
    strategy = strategy or default_strategy(model, options)
    return run_tune(model, data, strategy=strategy, trials=trials, timeout=timeout, storage=storage, study=study,
                    out=out, space=space, labels_per_class=labels_per_class, seed=seed, source=source,
                    teacher=teacher, unlabeled=unlabeled, pruner=pruner, sampler=sampler, **options)


def pretrain(
    model: ModelLike,
    data: DataLike,
    *,
    out: str | Path | None = None,
    method: str = "supervised",
    seed: int = 0,
    **options: Any,
) -> Run:
    """Train a source model; the run directory is usable as ``run:DIR`` by any command.

    Args:
        model: The architecture (and starting weights) to pretrain.
        data: The labeled source data.
        out: The run directory.
        method: ``supervised`` (labels), ``simclr`` or ``rotation`` (no labels needed;
            :mod:`graft.self_supervised`).
        seed: The seed.
        **options: As for :func:`fit`.
    """
    from graft.pretraining import PRETRAIN_METHODS, SUPERVISED_DEFAULTS

    PRETRAIN_METHODS.get(method)  # an unknown name: the allowed ones and the closest
    check_seeds([seed])
    if method == "supervised":
        return fit(model, data, "finetune", seed=seed, out=out, **{**SUPERVISED_DEFAULTS, **options})
    from graft.self_supervised import pretrain_self_supervised

    return pretrain_self_supervised(method, model, data, out=out, seed=seed, **options)


@_quietly
def shift(model: ModelLike, source: DataLike, data: DataLike, **options: Any) -> dict[str, Any]:
    """Measure the domain shift between ``source`` and ``data``; see :func:`graft.domain_shift.shift`."""
    from graft.domain_shift import shift as measure

    check_seeds([options.get("seed", 0)])
    return measure(model, source, data, **options)


@_quietly
def rank(
    models: ModelLike | Sequence[ModelLike] | None,
    data: DataLike,
    *,
    labels_per_class: int | None = None,
    scores: str | Sequence[str] | None = None,
    out: str | Path | None = None,
    models_file: str | Path | None = None,
    verify: int = 0,
    seed: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    **options: Any,
) -> Any:
    """Rank candidate models for ``data`` by transferability scores, before any training.

    Each model is built as :func:`fit` builds it; its features of the labeled training split
    (the K per class with ``labels_per_class``; never the test split) are extracted once and
    scored. See :mod:`graft.ranking`.

    Args:
        models: Model specs (``builtin:minilm?pooling=cls`` sets a model's own options) or modules.
        data: The target data, as for :func:`fit`.
        labels_per_class: Score on K labeled examples per class, the same ones fit would train on.
        scores: Score names (``"logme,leep"`` or a list); all registered ones by default
            (``graft.selection.SCORES``).
        out: Write ``rank.csv``, ``rank.md`` and ``plots/rank.png`` here.
        models_file: A file with one model spec per line, added to ``models``.
        verify: Fine-tune the top-N models with the default strategy and report each score's
            rank correlation with their test accuracy.
        seed: Seed of the labeled subset and of random-init models (as for :func:`fit`).
        resume: With ``verify``, reuse the finished fine-tunes of an earlier ranking in ``out``
            (their options checked) and continue interrupted ones; without it (or ``overwrite``)
            earlier ones are refused rather than replaced.
        overwrite: With ``verify``, replace an earlier ranking's fine-tunes in ``out``.
        **options: Data and model options for every model (``image_size``, ``split_seed``,
            ``label_column`` ...), ``batch_size`` and ``progress``; with ``verify``, also engine
            options for the fine-tuning (``epochs`` ...).

    Returns:
        A :class:`~graft.ranking.RankResult`: ``result.table`` (a DataFrame, best consensus
        first), ``result.winners()``, ``result.best``, ``result.correlations``.

    Example:
        >>> result = graft.rank(["builtin:efficientnet-lite0", "builtin:efficientnet-lite0?pretrained=false"],
        ...                     "builtin:digits", labels_per_class=10, image_size=64)  # doctest: +SKIP
        >>> result.best  # doctest: +SKIP
    """
    from graft.ranking import rank as run_ranking

    check_seeds([seed])
    return run_ranking(models, data, labels_per_class=labels_per_class, scores=scores, out=out,
                       models_file=models_file, verify=verify, seed=seed, resume=resume, overwrite=overwrite,
                       **options)


@_quietly
def export(run_dir: str | Path, format: str = "onnx", *, out: str | Path | None = None, opset: int | None = None,
           tolerance: float = 1e-4, model: nn.Module | None = None) -> Any:
    """Export a finished run's model to ONNX or TorchScript, checked against PyTorch.

    See :func:`graft.deploy.export.export_run`; returns its ``ExportResult`` (``path``,
    ``sidecar``, ``max_abs_diff``). Predict with the file through onnxruntime:
    ``graft.load_exported(result.path).predict(data)``.
    """
    from graft.deploy.export import export_run

    return export_run(run_dir, format, out=out, opset=opset, tolerance=tolerance, model=model)


def list_strategies() -> dict[str, str]:
    """Registered strategies with one-line descriptions."""
    from graft.strategies import STRATEGIES

    return STRATEGIES.describe()


def _takers(stream: str) -> list[str]:
    from graft.strategies import STRATEGIES

    return [name for name in STRATEGIES if stream in STRATEGIES.get(name).needs]


def _head_self_trainers() -> list[str]:
    from graft.strategies import STRATEGIES
    from graft.strategies.head_self_training import HeadSelfTrainingOptions

    return [name for name in STRATEGIES if issubclass(STRATEGIES.get(name).Config, HeadSelfTrainingOptions)]


def _check_resumable(run_dir: Path) -> None:
    from graft.engine.checkpoint import resumable

    if not resumable(run_dir):
        raise CheckpointError(
            f"--resume was given but '{run_dir}' has no checkpoints/last.ckpt (nor a domain adaptation's "
            "checkpoints/source_phases.ckpt). Allowed: the --out "
            "of an interrupted graft run (one interrupted before its first checkpoint, written after "
            "--checkpoint-every seconds of training, has none). Fix: drop --resume to start afresh, or pass that --out."
        )


def _check_needs(strategy: str, needs: frozenset[str], **given: Any) -> None:
    if "source" in needs and given.get("source") is None:
        target = ("the unlabeled target" if "target" in needs
                  else "the labeled target (--labels-per-class K keeps K labels per class)")
        raise ConfigError(
            f"Strategy '{strategy}' learns from a labeled source data set, but no source was given. "
            f"Fix: pass --source SPEC (labeled source data); --data is {target}."
        )
    if given.get("source") is not None and "source" not in needs:
        raise ConfigError(
            f"Strategy '{strategy}' does not use a source domain, but --source was given. Fix: drop "
            "--source, or pick a domain-adaptation strategy (graft list)."
        )
    if given.get("unlabeled") is not None and not takes_unlabeled(needs):
        raise ConfigError(
            f"Strategy '{strategy}' does not learn from unlabeled examples, but --unlabeled was given. Fix: drop "
            f"--unlabeled, or pick a strategy that does ({', '.join(_takers('unlabeled'))}, or "
            f"{' and '.join(_head_self_trainers())} with --self-train-rounds N)."
        )
    if given.get("teacher") is not None and "teacher" not in needs:
        raise ConfigError(
            f"Strategy '{strategy}' does not use a teacher, but --teacher was given. Fix: drop --teacher"
            + (f"; strategies that distil from a teacher take it ({', '.join(_takers('teacher'))})."
               if _takers("teacher") else " (no registered strategy uses a teacher yet).")
        )
    if "teacher" in needs and given.get("teacher") is None:
        raise ConfigError(
            f"Strategy '{strategy}' distils from a teacher, but none was given. Fix: pass --teacher run:DIR."
        )


def _check_source_classes(strategy: str, same: bool, source: Any, target: Any) -> None:
    """A labeled source beside the target: the same classes where its examples join the target's
    task; any classes where it keeps its own task (said in a note when they differ)."""
    from graft.streams import check_domains

    if same:
        check_domains(source, target)
    elif list(source.classes) != list(target.classes):
        from graft.notes import note

        note(f"The source {source.name} has {len(source.classes)} classes and the target {len(target.classes)}, "
             f"not the same: '{strategy}' keeps a head per task, so that is allowed.")


def _as_unlabeled_target(target: Any, source: Any) -> Any:
    """A target without any label takes the source's classes; there is then no test split."""
    import dataclasses as dc

    from graft.notes import note

    note(f"{target.name} has no labels: all of it adapts the model, and no target accuracy is reported "
         f"(the label-free validator picks the checkpoint). Hold out a labeled target sample to measure it.")
    return dc.replace(target, classes=list(source.classes),
                      meta={**target.meta, "class_values": source.meta.get("class_values") or list(source.classes)})


def _engine_config(strategy_cls: Any, given: dict[str, Any], kind: str | None = None) -> TrainConfig:
    """The engine options: the user's over the strategy's defaults (for a model of input ``kind``), checked."""
    cfg = build_config(TrainConfig, {**strategy_cls.train_defaults_for(kind), **given}, "the engine")
    cfg.validate()
    _fit_default_warmup(cfg, given)
    return cfg


def _fit_default_warmup(cfg: TrainConfig, given: dict[str, Any]) -> None:
    """A strategy's default warm-up as long as a short run (``--epochs 2`` with finetune's 2-epoch
    warm-up) would never reach the learning rate: shorten it to a tenth of the run, with a note.
    A warm-up the user chose is checked by ``check_unused`` instead."""
    if "warmup_epochs" in given or not 0 < cfg.epochs <= cfg.warmup_epochs:
        return
    from graft.notes import note

    old, cfg.warmup_epochs = cfg.warmup_epochs, round(cfg.epochs / 10, 3)
    note(f"The strategy's default warm-up ({old:g} epochs) is not shorter than --epochs {cfg.epochs}; it is "
         f"shortened to {cfg.warmup_epochs:g} epochs. Fix: pass --warmup-epochs to choose it.")


def _shift(net: GraftModel, streams: Any, run_dir: Path, when: str) -> dict[str, float]:
    """Domain-shift measures between source and target features, with a t-SNE plot."""
    from graft.domain_shift import measure_shift

    if not is_main_process():
        return {}
    target = streams.target_plain if streams.target_plain is not None else streams.test
    found = measure_shift(net, streams.plain_train, target, plot=run_dir / "plots" / f"tsne_{when}.png",
                          title=f"source vs target features, {when} adaptation", max_n=1000)
    return {f"shift_{when}_{k}": v for k, v in found.items()}


def _shift_before(net: GraftModel, streams: Any, run_dir: Path, resume: bool) -> dict[str, float]:
    """The shift before training, measured once and kept so a resumed run reports it too."""
    import json

    from graft.io import write_json

    path = run_dir / "checkpoints" / "shift_before.json"
    if resume and path.exists():
        return json.loads(path.read_text())
    found = _shift(net, streams, run_dir, "before")
    if found:
        write_json(path, found)
    return found


def _oracle(history: list[dict[str, float]]) -> dict[str, Any]:
    """Best per-epoch target test accuracy: an upper bound, clearly named, never used to select."""
    curve = [(r["oracle_test_accuracy"], int(r["epoch"])) for r in history if "oracle_test_accuracy" in r]
    if not curve:
        return {}
    acc, epoch = max(curve)
    return {"oracle_test_accuracy": acc, "oracle_epoch": epoch}


def _val_accuracy(result: Any) -> float | None:
    if result.best_epoch is None:
        return None
    if result.best_epoch == 0:  # the starting weights won (LP-FT's probe)
        value = result.start_metrics.get("val_accuracy")
        return float(value) if value is not None else None
    for row in result.history:
        if row.get("epoch") == result.best_epoch and "val_accuracy" in row:
            return float(row["val_accuracy"])
    vals = [r["val_accuracy"] for r in result.history if "val_accuracy" in r]
    return float(max(vals)) if vals else None


def _count(model: nn.Module, trainable: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def _short(model: ModelLike) -> str:
    if not isinstance(model, str):
        return type(model).__name__.lower()
    return model.rstrip("/").split("/")[-1].split(":")[-1].replace(".", "_")
