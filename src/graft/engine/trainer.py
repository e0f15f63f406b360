"""The training loop on Lightning Fabric.

The engine owns loops, devices, precision, checkpoints, resume, early stopping,
schedules, progress and logging. A strategy hands it a module, the optimizer groups
(all created up front) and a step function that computes the losses of one batch.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from graft.data.base import dataset_size
from graft.engine.checkpoint import load_checkpoint, save_checkpoint
from graft.engine.config import TrainConfig
from graft.engine.ema import WeightAverage
from graft.engine.evaluate import evaluate_examples
from graft.engine.fabric import make_fabric
from graft.engine.memory import peak_memory_mb, reset_peak_memory
from graft.engine.progress import EpochProgress
from graft.engine.schedules import PlateauState, lr_factor
from graft.engine.selection import Candidate, EpochSelector
from graft.errors import CheckpointError, ConfigError
from graft.warnings_filter import quiet_third_party

Batch = dict[str, Any]
StepFn = Callable[[nn.Module, Batch], dict[str, torch.Tensor]]


class Callback(Protocol):
    """Optional behaviour hooked into the loop (a freeze schedule, a ramp).

    A callback may also define ``on_epoch_end(epoch, module)``, called after the epoch's
    steps and before its validation (e.g. to refit a head on the updated features), and
    ``on_validation_end(epoch, row, monitor)``, called with the epoch's history row once it
    is validated and offered for selection (``row[monitor]`` is the value that selects). An
    exception it raises ends the run (a hyper-parameter search pruning a trial).
    """

    def on_epoch_start(self, epoch: int, module: nn.Module) -> None: ...


_ATTACHED: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar("graft_attached_callbacks", default=())


@contextlib.contextmanager
def attached_callbacks(*callbacks: Any) -> Iterator[None]:
    """Add ``callbacks`` to every :class:`Trainer` created inside the block.

    For behaviour that belongs to whoever calls a run rather than to its strategy: ``graft tune``
    reports each epoch's validation value to its trial without a strategy knowing. Each callback
    defines any of the hooks of :class:`Callback`.
    """
    token = _ATTACHED.set(_ATTACHED.get() + callbacks)
    try:
        yield
    finally:
        _ATTACHED.reset(token)


def monitor_mode(monitor: str) -> str:
    """``min`` for a monitored loss, ``max`` for any other metric (accuracies, label-free validators)."""
    return "min" if monitor.endswith("loss") else "max"


@dataclass
class FitResult:
    """What a finished training run knows."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None
    selected_by: str = "last"
    epochs_run: int = 0
    seconds: float = 0.0
    #: Parameters of the model that training updated; set by the strategy (a trainer
    #: also sees training-only modules such as a domain discriminator).
    trainable_params: int | None = None
    peak_memory_mb: float | None = None
    #: Validation metrics of the starting weights when they competed; ``history``
    #: then begins with them as its epoch-0 row.
    start_metrics: dict[str, float] = field(default_factory=dict)
    #: The epoch the selection picked that ``confirm_pick`` refused (the start was kept); None if none.
    vetoed_epoch: int | None = None
    #: Figures a strategy adds to metrics.json (a teacher's or the unpruned model's, beside
    #: the result's).
    extra_metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    """Where one fit sits inside a longer schedule split over several fits (a warm start, then
    the adaptation): the learning-rate schedule spans ``length`` epochs, of which ``offset`` ran
    before this fit, and the optimizer resumes ``optimizer_state`` (the earlier fit's
    :attr:`Trainer.optimizer_state`). Epoch seeds and batch orders continue from ``offset`` too,
    so no epoch replays an earlier one's. ``batch["progress"]`` (an alignment ramp's clock)
    stays this fit's own."""

    offset: int = 0
    length: int | None = None
    optimizer_state: dict[str, Any] | None = None


class Trainer:
    """Trains one module with one step function.

    Args:
        config: How to train.
        seed: Seeds shuffling, dropout and augmentation; each epoch reseeds from
            ``(seed, epoch)`` so a resumed run continues to the same result.
        run_dir: Where checkpoints and logs go; None keeps nothing on disk.
        callbacks: Objects with ``on_epoch_start(epoch, module)``.
        metrics: Extra per-epoch metrics, ``fn(module) -> dict`` (label-free
            validators and the oracle plug in here). When there is no labeled
            validation data, ``config.monitor`` names one of their keys. A metric
            object whose ``examples`` attribute holds per-example tensors after a call
            (``{key: [N]}``, mean = the key's value) feeds the start-margin rule; one
            with ``metric_state()`` / ``load_metric_state(state)`` has that state checkpointed
            and restored on resume.
        start_is_candidate: The weights before training may be selected (epoch 0)
            when no epoch validates better; their figures are then the history's
            epoch-0 row.
        evaluator: Per-example ``loss`` and ``accuracy`` of the module on labeled data, in
            place of a forward pass over it (a strategy that refits its head on the
            validation features it computes anyway).
        loss_clears_start: A validation-loss gain beyond the start margin also lets an
            epoch replace the start (see :mod:`graft.engine.selection`).
        later_wins_ties: Of epochs with the same monitored value, the later one is kept
            (by default the one with the lower validation loss).
        may_replace_start: ``fn(row) -> bool`` over an epoch's history row: False keeps that
            epoch from replacing the start, whatever its monitored value (a guard beside the
            start-margin rule); None: every epoch may.
        confirm_pick: ``fn(picked_row, start_row) -> bool`` over the history rows of the epoch the
            selection picked and of the start: False keeps the start instead (a second validator's
            veto, checked once at the end); None: the pick stands.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        seed: int = 0,
        run_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        metrics: Sequence[Callable[[nn.Module], dict[str, float]]] = (),
        start_is_candidate: bool = False,
        evaluator: Callable[[nn.Module, Dataset], dict[str, torch.Tensor]] | None = None,
        loss_clears_start: bool = False,
        later_wins_ties: bool = False,
        may_replace_start: Callable[[dict[str, float]], bool] | None = None,
        confirm_pick: Callable[[dict[str, float], dict[str, float]], bool] | None = None,
    ) -> None:
        self.config = config
        self.may_replace_start = may_replace_start
        self.confirm_pick = confirm_pick
        self.evaluator = evaluator
        self.loss_clears_start = loss_clears_start
        self.later_wins_ties = later_wins_ties
        self.seed = seed
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = [*callbacks, *_ATTACHED.get()]
        self.metrics = list(metrics)
        self.start_is_candidate = start_is_candidate
        #: The optimizer's state when :meth:`fit` returned (moments, step counts), for a
        #: :class:`Phase` that continues it.
        self.optimizer_state: dict[str, Any] | None = None
        with quiet_third_party():  # Fabric's environment checks (srun on the PATH)
            self.fabric = make_fabric(config, self.run_dir)

    @property
    def checkpoint_path(self) -> Path | None:
        return self.run_dir / "checkpoints" / "last.ckpt" if self.run_dir else None

    def fit(
        self,
        module: nn.Module,
        groups: list[dict[str, Any]],
        step: StepFn,
        train: Dataset,
        val: Dataset | None = None,
        target: Dataset | None = None,
        *,
        resume: bool = False,
        phase: Phase | None = None,
        start_state: dict[str, torch.Tensor] | None = None,
    ) -> FitResult:
        """Train ``module`` and restore the weights of the selected epoch.

        Progress goes to stderr: a live bar in a terminal, one line per epoch
        otherwise (a log file, CI); ``config.progress=False`` silences both.
        Library warnings that mean nothing to the user are hidden
        (:func:`graft.warnings_filter.quiet_third_party`).

        Args:
            module: What to train; its ``forward(x)`` returns logits for validation.
            groups: Optimizer groups tagged with ``lr_scale``.
            step: Computes ``{"loss": ..., other logs}`` for one batch. The batch has
                ``x`` and ``y``, plus ``x_t`` and ``y_t`` from ``target`` when given.
            train: Labeled training data of ``(x, y)`` items.
            val: Validation data; None or empty selects the last epoch.
            target: A second stream: unlabeled (domain adaptation, semi-supervised), or a
                labeled source beside the labeled target (multi-task, instance weighting).
            resume: Continue from ``run_dir/checkpoints/last.ckpt``.
            phase: This fit's place in a schedule shared with other fits (:class:`Phase`);
                None: a schedule of its own.
            start_state: Weights (of ``module``) that compete as epoch 0 in place of the
                starting ones, when the start is a candidate: a reference trained apart
                (domain adaptation's source-only reference). Training still begins from
                ``module``'s own weights.

        Returns:
            The history holds one row per trained epoch, after an epoch-0 row of the
            starting weights when they compete; ``epochs_run`` counts trained epochs.
        """
        with quiet_third_party():
            return self._fit(module, groups, step, train, val, target, resume=resume, phase=phase or Phase(),
                             start_state=start_state)

    def _fit(
        self,
        module: nn.Module,
        groups: list[dict[str, Any]],
        step: StepFn,
        train: Dataset,
        val: Dataset | None,
        target: Dataset | None,
        *,
        resume: bool,
        phase: Phase,
        start_state: dict[str, torch.Tensor] | None = None,
    ) -> FitResult:
        cfg, fabric = self.config, self.fabric
        peak = 0.0
        for g in groups:
            g["lr"] = cfg.lr * g.get("lr_scale", 1.0)
            g.setdefault("initial_lr", g["lr"])
        optimizer = _make_optimizer(cfg, groups)
        if phase.optimizer_state is not None:
            optimizer.load_state_dict(phase.optimizer_state)
        steps = StepModule(module, fabric.strategy.precision)
        with _all_trainable(groups):  # DDP registers only the parameters that need gradients at setup
            wrapped, optimizer = fabric.setup(steps, optimizer)
        average = WeightAverage(module, cfg.ema_decay) if cfg.ema_decay else None
        longest = max(dataset_size(train), dataset_size(target) if target is not None else 0)
        steps_per_epoch = cfg.steps_per_epoch or num_batches(longest, cfg.batch_size, fabric.world_size)
        offset = phase.offset
        total_steps = steps_per_epoch * (phase.length or offset + cfg.epochs)  # the schedule's length
        own_steps = steps_per_epoch * cfg.epochs
        warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
        has_val = val is not None and dataset_size(val) > 0
        selecting = has_val or bool(self.metrics)
        mode = monitor_mode(cfg.monitor)
        plateau = PlateauState(mode=mode, factor=cfg.gamma, patience=cfg.plateau_patience)
        result = FitResult(selected_by="val" if has_val else (cfg.monitor if selecting else "last"))
        selector = EpochSelector(mode=mode, margin_se=cfg.start_margin_se, loss_clears=self.loss_clears_start)
        start_epoch, global_step, bad_epochs = 0, offset * steps_per_epoch, 0

        schedule = {"epochs": cfg.epochs, "steps_per_epoch": steps_per_epoch, "batch_size": cfg.batch_size,
                    "lr": cfg.lr, "schedule": cfg.schedule, "warmup_epochs": cfg.warmup_epochs,
                    "optimizer": cfg.optimizer, **({"offset": offset, "length": phase.length} if offset else {})}
        if resume:
            state = self._load(module, optimizer)
            _warn_if_schedule_changed(state.get("schedule"), schedule)
            start_epoch, global_step = state["epoch"], state["step"]
            result.history, bad_epochs = state["history"], state["bad_epochs"]
            result.start_metrics = state.get("start_metrics", {})
            if "selector" not in state:
                raise CheckpointError(
                    f"The checkpoint '{self.checkpoint_path}' was written by an older graft (it has no epoch-"
                    "selection state). Fix: start the run afresh without --resume."
                )
            selector.load_state_dict(state["selector"])
            for metric, saved in zip(self.metrics, state.get("metric_states", ()), strict=False):
                if saved is not None and hasattr(metric, "load_metric_state"):
                    metric.load_metric_state(saved)
            plateau = PlateauState(**state["plateau"])
            if average is not None and "weight_average" in state:
                average.load_state_dict(state["weight_average"])

        t0 = time.perf_counter() - (result.history[-1]["seconds"] if result.history else 0.0)
        with EpochProgress(cfg.epochs, steps_per_epoch, enabled=cfg.progress and fabric.is_global_zero,
                           monitor=cfg.monitor) as bar:
            if selecting and self.start_is_candidate and not resume:
                # The starting weights compete with every epoch (a probe-fitted head in
                # LP-FT): fine-tuning is kept only where validation says it helped.
                own = cpu_copy(module.state_dict()) if start_state is not None else None
                if start_state is not None:
                    module.load_state_dict(start_state)
                start, examples = self._validate(wrapped, val if has_val else None)
                result.start_metrics = start
                if start and cfg.monitor not in start:  # a typo is caught before any training
                    raise _unknown_monitor(cfg.monitor, start)
                if not math.isnan(start.get(cfg.monitor, float("nan"))):
                    selector.offer_start(start[cfg.monitor], cpu_copy(module.state_dict()),
                                         examples.get(cfg.monitor), self._tie(0, start), examples.get("val_loss"))
                if own is not None:
                    module.load_state_dict(own)
                if start:
                    # The start is a candidate like any epoch, so the curves and history.csv
                    # show it; a resumed run finds this row in the checkpointed history.
                    row0: dict[str, float] = {"epoch": 0, **start, "seconds": time.perf_counter() - t0}
                    result.history.append(row0)
                    fabric.log_dict({k: v for k, v in row0.items() if k != "epoch"}, step=0)
                    bar.start_row(row0)
            bar.advance_to(start_epoch)
            # Once per run: a reset walks the page tables and trims the heap, a fixed cost that
            # is most of an epoch of a small model (B11). The peak then covers validation too.
            reset_peak_memory()
            last_save = time.perf_counter()
            for epoch in range(start_epoch, cfg.epochs):
                _seed(self.seed * 100_003 + offset + epoch)
                wrapped.train()
                for cb in self.callbacks:  # after train(): a callback may put parts in eval mode
                    begin = getattr(cb, "on_epoch_start", None)
                    if begin is not None:
                        begin(epoch, module)
                sums: dict[str, torch.Tensor] = {}
                n_batches = 0
                for batch in self._batches(train, target, offset + epoch, steps_per_epoch):
                    factor = lr_factor(
                        global_step, total_steps, schedule=cfg.schedule, warmup_steps=warmup,
                        min_factor=cfg.min_lr_ratio, gamma=cfg.gamma, inv_gamma=cfg.inv_gamma,
                        inv_power=cfg.inv_power,
                        step_every=cfg.step_epochs * steps_per_epoch,
                    ) * plateau.scale
                    for g in optimizer.param_groups:
                        g["lr"] = g["initial_lr"] * factor
                    batch["progress"] = (global_step - offset * steps_per_epoch) / max(1, own_steps)
                    out = steps.run(wrapped, step, batch)  # one forward: DDP sees every part the step uses
                    loss = out["loss"]
                    if loss.device.type == "cpu":  # free here; on an accelerator, read once an epoch (below)
                        _check_finite(loss, epoch, f"step {global_step}")
                    optimizer.zero_grad(set_to_none=True)
                    fabric.backward(loss)
                    if cfg.grad_clip:
                        fabric.clip_gradients(wrapped, optimizer, max_norm=cfg.grad_clip)
                    optimizer.step()
                    if average is not None:
                        average.update()
                    global_step += 1
                    n_batches += 1
                    # Sums stay tensors where the step ran: reading a value off a GPU waits for the step to end,
                    # so they are read once an epoch, and the bar reads the loss only when it redraws.
                    for k, v in out.items():
                        if torch.is_tensor(v) and v.numel() == 1:
                            sums[k] = sums[k] + v.detach().float() if k in sums else v.detach().float()
                    bar.step(epoch, loss)
                peak = max(peak, peak_memory_mb())  # training steps only, before validation
                for cb in self.callbacks:
                    end = getattr(cb, "on_epoch_end", None)
                    if end is not None:
                        end(epoch, module)
                row: dict[str, float] = {"epoch": epoch + 1}
                if "loss" in sums:
                    _check_finite(sums["loss"], epoch, f"by step {global_step}")
                row.update({f"train_{k}": float(v) / max(1, n_batches) for k, v in sums.items()})
                row["lr"] = cfg.lr * factor if n_batches else float("nan")
                with average.swapped_in() if average is not None else contextlib.nullcontext():
                    metrics, examples = self._validate(wrapped, val if has_val else None)
                    row.update(metrics)
                    row["seconds"] = time.perf_counter() - t0
                    result.history.append(row)
                    improved = False
                    if selecting:
                        value = row.get(cfg.monitor, float("nan"))
                        if math.isnan(value):
                            raise _unknown_monitor(cfg.monitor, row)
                        eligible = self.may_replace_start is None or self.may_replace_start(row)
                        improved = selector.offer(epoch + 1, value, lambda: cpu_copy(module.state_dict()),
                                                  examples.get(cfg.monitor), self._tie(epoch + 1, row),
                                                  examples.get("val_loss"), eligible=eligible)
                        if cfg.schedule == "plateau":
                            plateau.update(value)
                bad_epochs = 0 if improved or not selecting else bad_epochs + 1
                fabric.log_dict({k: v for k, v in row.items() if k != "epoch"}, step=epoch + 1)
                bar.end_epoch(epoch, row)
                for cb in self.callbacks:
                    validated = getattr(cb, "on_validation_end", None)
                    if validated is not None and selecting:
                        validated(epoch + 1, row, cfg.monitor)
                # At most one checkpoint every checkpoint_every seconds: a per-epoch torch.save was
                # half the wall time of a small table's training (B11); a resume loses at most that.
                now = time.perf_counter()
                due = now - last_save >= cfg.checkpoint_every
                if fabric.world_size > 1:  # one decision for every rank: saving ends in a barrier
                    due = bool(fabric.broadcast(due, src=0))
                if due:
                    last_save = now
                    self._save(module, optimizer, {
                        "epoch": epoch + 1, "step": global_step, "history": result.history,
                        "bad_epochs": bad_epochs, "selector": selector.state_dict(),
                        "plateau": plateau.__dict__, "start_metrics": result.start_metrics, "schedule": schedule,
                        "metric_states": [m.metric_state() if hasattr(m, "metric_state") else None
                                          for m in self.metrics],
                        **({"weight_average": average.state_dict()} if average is not None else {}),
                    })
                if selecting and cfg.patience is not None and bad_epochs >= cfg.patience:
                    break

        for logger in fabric.loggers:
            logger.finalize("success")
        self.optimizer_state = optimizer.state_dict()
        result.epochs_run = sum(1 for row in result.history if row["epoch"] > 0)  # not the start's row
        result.peak_memory_mb = peak or None
        result.seconds = result.history[-1]["seconds"] if result.history else 0.0
        chosen = selector.chosen()
        if chosen is not None and self._vetoed(chosen, selector.start, result):
            result.vetoed_epoch, chosen = chosen.epoch, selector.start
        if chosen is not None:
            module.load_state_dict(chosen.state)
            result.best_epoch, result.best_value = chosen.epoch, chosen.value
        elif not selecting:
            result.best_epoch = result.epochs_run
            if average is not None:
                average.copy_to_module()
        if any(p.dtype == torch.float64 for p in module.parameters()):
            module.float()  # --precision 64-true trained in double; evaluation, prediction and export read float32
        return result

    def _vetoed(self, chosen: Candidate, start: Candidate | None, result: FitResult) -> bool:
        """``confirm_pick`` refuses the picked epoch, so the start is kept."""
        if self.confirm_pick is None or start is None or chosen is start:
            return False
        picked = next((r for r in result.history if r.get("epoch") == chosen.epoch), None)
        return picked is not None and not self.confirm_pick(picked, result.start_metrics)

    def _tie(self, epoch: int, row: dict[str, float]) -> float | None:
        """What breaks an exact tie of the monitored value (lower wins): the later epoch, or the
        validation loss."""
        return -float(epoch) if self.later_wins_ties else _tie_break(self.config.monitor, row)

    def _validate(self, module: nn.Module, val: Dataset | None) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        """The epoch's validation metrics, and per-example values where there are labels."""
        examples: dict[str, torch.Tensor] = {}
        if val is not None and self.evaluator is not None:
            examples = {f"val_{k}": v for k, v in self.evaluator(module, val).items()}
        elif val is not None:
            examples = evaluate_examples(module, val, self.config.batch_size, self.fabric.device, prefix="val_")
        metrics = {k: float(v.mean()) for k, v in examples.items()}
        for metric in self.metrics:
            metrics.update(metric(module))
            # A label-free validator's per-example terms: the start-margin rule then applies to it too.
            examples.update(getattr(metric, "examples", None) or {})
        return metrics, examples

    def _batches(
        self, train: Dataset, target: Dataset | None, epoch: int, steps: int
    ) -> Iterator[Batch]:
        labeled = _cycle(self._loader(train, epoch), epoch)
        unlabeled = _cycle(self._loader(target, epoch + 7919), epoch) if target is not None else None
        for _ in range(steps):
            x, y = next(labeled)
            batch: Batch = {"x": x, "y": y}
            if unlabeled is not None:  # its labels are -1 where it has none (an Unlabeled stream)
                batch["x_t"], batch["y_t"] = next(unlabeled)
            yield batch

    def _loader(self, data: Dataset, epoch: int) -> DataLoader:
        cfg, fabric = self.config, self.fabric
        sampler = SeededSampler(dataset_size(data), fabric.world_size, fabric.global_rank, self.seed, epoch)
        # A last batch of one breaks batch norm in training; drop it.
        per_rank = math.ceil(dataset_size(data) / fabric.world_size)
        drop_last = per_rank > self.config.batch_size and per_rank % cfg.batch_size == 1
        loader = DataLoader(
            data, batch_size=cfg.batch_size, sampler=sampler, drop_last=drop_last,
            num_workers=cfg.num_workers, collate_fn=getattr(data, "collate", None),
        )
        # One loader in, one out; Fabric annotates the result for several as well.
        return cast(DataLoader, fabric.setup_dataloaders(loader, use_distributed_sampler=False))

    def _save(self, module: nn.Module, optimizer: Any, state: dict[str, Any]) -> None:
        if self.checkpoint_path is None:
            return
        save_checkpoint(self.fabric, self.checkpoint_path, module, optimizer, state)

    def _load(self, module: nn.Module, optimizer: Any) -> dict[str, Any]:
        path = self.checkpoint_path
        if path is None or not path.exists():
            raise CheckpointError(
                f"--resume was given but there is no checkpoint at "
                f"'{path if path else '<no run directory>'}'. Allowed: a run directory "
                "written by an interrupted graft run. Fix: drop --resume to start afresh, "
                "or pass the --out of the interrupted run."
            )
        return load_checkpoint(self.fabric, path, module, optimizer, optimizer_name=self.config.optimizer)


class StepModule(nn.Module):
    """Runs a whole training step inside one ``forward``.

    A strategy's step may call parts of its module beside the model's forward (a domain
    discriminator, a distillation projection, a second view of the batch). Run outside the
    wrapped forward, a data-parallel wrapper (DDP) would not see them: their gradients would not
    be all-reduced, and DDP refuses the next step. :meth:`run` makes the step the forward, so every
    part is seen and the losses are the forward's outputs.

    Precision is what it would be with the model called through Fabric: during the step, a call
    of the module itself converts its inputs, runs under the precision's autocast and returns
    float32 outputs, while the losses and the other parts run outside autocast. Called with
    inputs alone, it is the module's own forward (validation).
    """

    def __init__(self, module: nn.Module, precision: Any) -> None:
        super().__init__()
        self.inner = module
        self._precision = precision
        self._pending: tuple[StepFn, Batch] | None = None

    def run(self, wrapped: nn.Module, step: StepFn, batch: Batch) -> dict[str, torch.Tensor]:
        """``step(module, batch)`` as the forward of ``wrapped`` (this module, set up by Fabric). The
        batch does not pass through Fabric's input conversion: only what reaches the model does."""
        self._pending = (step, batch)
        try:
            return cast(dict[str, torch.Tensor], wrapped())
        finally:
            self._pending = None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._pending is None:
            return self.inner(*args, **kwargs)
        step, batch = self._pending
        device = next(self.inner.parameters()).device.type
        model_forward = self.inner.forward
        precision = self._precision

        def forward_in_precision(*a: Any, **k: Any) -> Any:
            a, k = precision.convert_input((a, k))
            with precision.forward_context():
                out = model_forward(*a, **k)
            return precision.convert_output(out)

        self.inner.forward = forward_in_precision
        try:
            with torch.autocast(device, enabled=False):
                return step(self.inner, batch)
        finally:
            del self.inner.forward


@contextlib.contextmanager
def _all_trainable(groups: list[dict[str, Any]]) -> Iterator[None]:
    """Every parameter of the optimizer groups requires gradients inside the block (then as before):
    a parameter frozen when DDP is set up and unfrozen later (``--unfreeze-at``) would otherwise
    never have its gradients all-reduced."""
    params = [p for g in groups for p in g["params"]]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


class SeededSampler(Sampler[int]):
    """Shuffles ``(seed, epoch, pass)``-deterministically and shards across ranks.

    It has no ``set_epoch`` on purpose: Fabric would reset it per loader; the
    engine reseeds it itself so a resumed run sees the same order.
    """

    def __init__(self, n: int, replicas: int, rank: int, seed: int, epoch: int) -> None:
        self.n, self.replicas, self.rank, self.seed, self.epoch = n, replicas, rank, seed, epoch
        self.passes = 0

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch * 1009 + self.passes)
        self.passes += 1
        order = torch.randperm(self.n, generator=g).tolist()
        per_rank = math.ceil(self.n / self.replicas)
        order += order[: per_rank * self.replicas - self.n]
        return iter(order[self.rank :: self.replicas])

    def __len__(self) -> int:
        return math.ceil(self.n / self.replicas)


def _cycle(loader: DataLoader, epoch: int) -> Iterator[Any]:
    """Loop over a loader forever; the sampler reshuffles on each pass."""
    while True:
        yield from loader


def num_batches(n: int, batch_size: int, world_size: int) -> int:
    """The batches of one pass over ``n`` examples on each of ``world_size`` ranks (a last batch of
    one example is dropped: batch norm cannot train on it)."""
    per_rank = math.ceil(n / world_size)
    full, rest = divmod(per_rank, batch_size)
    if rest == 1 and full > 0:
        rest = 0
    return max(1, full + (1 if rest else 0))


def _check_finite(loss: torch.Tensor, epoch: int, where: str) -> None:
    """Stop the run on a loss that is no number: the weights it would step to are lost."""
    if not bool(torch.isfinite(loss)):
        raise FloatingPointError(f"The training loss became {float(loss)} at epoch {epoch + 1}, {where}. "
                                 "Fix: lower --lr or use --precision 32-true.")


def _make_optimizer(cfg: TrainConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    clean = [dict(g) for g in groups]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(clean, lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                               weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(clean, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _seed(value: int) -> None:
    """Seed the epoch's randomness. Without CUDA, only the CPU generator: ``torch.manual_seed``
    also queues lazy seeding of CUDA, XPU and MTIA, recording a stack trace each time (about a
    millisecond per call, a fifth of an epoch of a small table's training)."""
    if torch.cuda.is_available():
        torch.manual_seed(value)
    else:
        torch.default_generator.manual_seed(value)


def _tie_break(monitor: str, row: dict[str, float]) -> float | None:
    """The validation loss breaks ties of another monitored metric (accuracy saturates on
    small validation sets); label-free validators have no loss to break ties with."""
    if monitor == "val_loss":
        return None
    value = row.get("val_loss")
    return None if value is None or math.isnan(value) else float(value)


def _unknown_monitor(monitor: str, row: dict[str, float]) -> ConfigError:
    allowed = ", ".join(k for k in sorted(row) if k not in ("epoch", "seconds", "lr"))
    return ConfigError(
        f"The monitored metric '{monitor}' was not computed. Allowed: {allowed}. Fix: pass one of them as --monitor."
    )


def _warn_if_schedule_changed(saved: dict[str, Any] | None, now: dict[str, Any]) -> None:
    """A resumed run whose learning-rate schedule differs from the interrupted one's."""
    if not saved:
        return
    changed = {k: (saved[k], v) for k, v in now.items() if k in saved and saved[k] != v}
    if set(changed) <= {"epochs"} and now["schedule"] == "constant" and not now["warmup_epochs"]:
        changed = {}  # a constant LR does not depend on the run's length: extending is exact
    if changed:
        import warnings

        what = ", ".join(f"{k} {a} → {b}" for k, (a, b) in changed.items())
        warnings.warn(
            f"Resuming with a different schedule than the interrupted run ({what}). The learning rate "
            "follows the new values from the resumed step on, so the result matches neither setting run "
            "uninterrupted. Fix: resume with the interrupted run's options to continue it exactly.",
            UserWarning, stacklevel=4,  # the caller of Trainer.fit (fit → _fit → here)
        )


def cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A detached copy of a state dict on the CPU (a candidate's weights, a phase's result)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


__all__ = ["Batch", "Callback", "FitResult", "Phase", "SeededSampler", "StepFn", "StepModule", "Trainer",
           "attached_callbacks", "monitor_mode"]
