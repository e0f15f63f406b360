"""``graft rank``: score candidate models on the target's labeled training split, before any training.

Every model is built the way ``graft fit`` builds it (same data loading, same splits, same
input schema fitted on the training rows), its backbone's features of the labeled training
examples are extracted once (the probe's feature cache) and every score runs on them. The
test split is never read. ``verify`` then fine-tunes the top models with ``graft.fit`` to
check the scores against measured accuracy.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from graft.errors import ConfigError
from graft.models.source_heads import head_probabilities, source_head
from graft.notes import work_started
from graft.options import build_config
from graft.ranking.candidates import Candidate, collect_candidates
from graft.ranking.result import RankResult, consensus
from graft.run_dir import check_out_folder
from graft.run_options import RUN_OPTIONS, RunOptions
from graft.selection.transferability import check_class_counts, compute_scores, parse_scores


def rank(
    models: Any,
    data: Any,
    *,
    labels_per_class: int | None = None,
    scores: str | Sequence[str] | None = None,
    out: str | Path | None = None,
    models_file: str | Path | None = None,
    verify: int = 0,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = True,
    resume: bool = False,
    overwrite: bool = False,
    **options: Any,
) -> RankResult:
    """Rank ``models`` for ``data`` by transferability scores; see :func:`graft.api.rank`."""
    candidates = collect_candidates(models, models_file)
    names = parse_scores(scores)
    if labels_per_class is not None and labels_per_class < 1:
        raise ConfigError(f"--labels-per-class must be >= 1. Got {labels_per_class} instead. Fix: pass e.g. "
                          "--labels-per-class 10, or leave it out to use every label.")
    if verify < 0:
        raise ConfigError(f"--verify must be >= 0 (models to fine-tune). Got {verify} instead. Fix: pass e.g. "
                          "--verify 3, or leave it out to fine-tune none.")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1. Got {batch_size} instead. Fix: pass e.g. --batch-size 256.")
    check_out_folder(out)
    if (resume or overwrite) and not verify:
        flag = "--resume" if resume else "--overwrite"
        raise ConfigError(f"{flag} applies to the fine-tunes of --verify; without it graft rank trains nothing "
                          f"(rank.csv and rank.md are rewritten each time). Allowed: {flag} with --verify N. Fix: "
                          "drop it, or add --verify N.")
    from graft.continuation import check_earlier, check_resume_flags
    from graft.engine.ranks import is_main_process

    check_resume_flags(resume, overwrite, out, "ranking")
    if verify and out is not None and is_main_process():  # --overwrite: each fine-tune is replaced in turn
        check_earlier(Path(out), ("verify.csv", "verify"), what="verification (rank --verify)", resume=resume,
                      overwrite=overwrite)
    run_opts = {k: v for k, v in options.items() if k.replace("-", "_") in RUN_OPTIONS}
    train_opts = {k: v for k, v in options.items() if k not in run_opts}
    run_cfg = build_config(RunOptions, run_opts, "graft rank")
    per_model = [build_config(RunOptions, {**run_opts, **c.options}, f"the model '{c.label}'") for c in candidates]
    if verify:
        _check_verify_options(candidates, per_model, train_opts)
    elif train_opts:
        raise ConfigError(
            "graft rank trains nothing without --verify, so "
            f"{', '.join('--' + k.replace('_', '-') for k in train_opts)} "
            f"would have no effect. Allowed without --verify: the data and model options "
            f"(--image-size, --split-seed ...). Fix: drop {'them' if len(train_opts) > 1 else 'it'}, or add --verify N."
        )
    from graft.models import check_model_spec

    for c in candidates:
        if isinstance(c.spec, str):
            check_model_spec(c.spec)

    from graft.data import load_source, make_splits
    from graft.data.schema import InputSchema
    from graft.models import DataInfo
    from graft.streams import SplitPlan

    target = load_source(data, **run_cfg.load_options())
    splits = make_splits(target, seed=seed, split_seed=run_cfg.split_seed, test_fraction=run_cfg.test_fraction,
                         val_fraction=run_cfg.val_fraction, labels_per_class=labels_per_class)
    rows = splits.train  # the labeled training examples fit would train on; never val or test
    y = np.asarray(target.y)[rows]
    check_class_counts(names, np.bincount(y, minlength=target.num_classes), target.classes)
    schema = InputSchema.fit(SplitPlan(splits).training_rows(target, None))
    target = schema.apply(target)
    info = DataInfo.from_source(target)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    # Every model is built before any features are extracted, so a wrong spec or a model for
    # another kind of input stops the ranking in seconds, not after the first models ran.
    built = [_build(c, info, cfg.model_options(), seed) for c, cfg in zip(candidates, per_model)]
    work_started()
    records = []
    for i, (c, (net, build_seconds)) in enumerate(zip(candidates, built)):
        if progress:
            print(f"rank {i + 1}/{len(candidates)}: {c.label}", file=sys.stderr, flush=True)
        records.append(_score_model(c, net, per_model[i], target, rows, names, build_seconds,
                                    batch_size=batch_size, device=device, seed=seed))
        built[i] = (None, build_seconds)  # free the model's memory
    table = pd.DataFrame(records)
    table["consensus_rank"], used = consensus(table, names)
    table = table.sort_values(["consensus_rank", "model"], kind="stable").reset_index(drop=True)
    order = ["model", *names, "consensus_rank", "feature_dim", "seconds", "source_head"]
    result = RankResult(table=table[order], scores=names, consensus_scores=used, data=target.name,
                        labels_per_class=labels_per_class, n_train=len(rows),
                        meta={"seed": seed, "split_seed": run_cfg.split_seed, "device": device})
    if verify:
        from graft.ranking.verify import verify_top

        verify_top(result, candidates, data, verify, seed=seed, out=out, run_options=run_opts,
                   train_options=train_opts, progress=progress, resume=resume)
    if out is not None:
        from graft.ranking.report import write_rank

        write_rank(result, Path(out))
    return result


def _check_verify_options(candidates: list[Candidate], per_model: list[RunOptions], train_opts: dict[str, Any]) -> None:
    """A typo in a fine-tuning option is refused before the ranking runs, not after it."""
    from graft.api import default_strategy
    from graft.option_groups import split_options
    from graft.strategies import STRATEGIES

    named = ("labels_per_class", "scores", "out", "models_file", "verify", "seed", "batch_size", "progress")
    for c, cfg in zip(candidates, per_model):
        strategy = default_strategy(c.spec, {"pretrained": cfg.pretrained})
        split_options(STRATEGIES.get(strategy), train_opts, named=named)


def _build(candidate: Candidate, info: Any, model_options: Any, seed: int) -> tuple[Any, float]:
    from graft.models import build_model

    t0 = time.perf_counter()
    torch.manual_seed(seed)  # a random-init candidate is the same model on every run
    net = build_model(candidate.spec, info, model_options)
    return net, time.perf_counter() - t0


def _score_model(candidate: Candidate, net: Any, cfg: RunOptions, target: Any, rows: np.ndarray, names: list[str],
                 build_seconds: float, *, batch_size: int, device: str, seed: int) -> dict[str, Any]:
    from graft.data import make_dataset
    from graft.engine.features import extract_features

    t0 = time.perf_counter()
    head, head_text = source_head(candidate.spec, net, cfg.model_options())
    dataset = make_dataset(target, rows, net.spec.input)
    features, labels = extract_features(net.backbone, dataset, batch_size=batch_size, device=device)
    probs = head_probabilities(head, features) if head is not None else None
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the scores' SVDs are small, and a threaded OpenBLAS next to torch's
    # still-spinning OpenMP threads (or other busy processes) ran them up to 100x slower
    # (1.8 s instead of 0.02 s for LogME's SVD of 100 x 1280 features on 2 cores).
    with threadpool_limits(limits=1, user_api="blas"):
        found = compute_scores(names, features, labels.numpy(), probs, seed=seed)
    return {
        "model": candidate.label,
        **{k: (v if isinstance(v, float) else np.nan) for k, v in found.items()},
        "feature_dim": int(features.shape[1]),
        "seconds": build_seconds + time.perf_counter() - t0,
        "source_head": head_text,
    }
