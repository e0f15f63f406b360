"""The strategy contract.

A strategy is one file: a ``Config`` dataclass and a ``Strategy`` subclass,
registered by name. It does model surgery and computes a step's losses; the engine
(:class:`graft.engine.trainer.Trainer`) owns the loop. Strategies that need more
than a labeled stream declare it in ``needs`` (``source`` and ``target`` for domain
adaptation, ``teacher`` for distillation); the API validates and provides them in
the :class:`FitContext`, so generic code never names a strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from graft.engine.config import TrainConfig
from graft.engine.evaluate import evaluate
from graft.engine.trainer import Batch, Callback, FitResult, Trainer
from graft.models.spec import GraftModel
from graft.options import Options
from graft.registry import Registry


@dataclass
class StrategyConfig(Options):
    """Base of every strategy's options: a strategy adds its own fields, each declared
    with :func:`graft.options.option` (help, type, allowed values)."""

    option_owner = "the strategy"


@dataclass
class FitContext:
    """Everything a strategy may use to train.

    Attributes:
        model: The model to adapt, built and moved to CPU; trained in place.
        train: Labeled training data (for domain adaptation: the labeled source).
        val: Labeled validation data carved from training, or None.
        train_config: The engine's options (after the strategy's defaults).
        seed: The run's seed.
        run_dir: Where checkpoints go; None for in-memory runs.
        resume: Continue from the run directory's last checkpoint.
        target: Unlabeled data of the target domain (``needs`` has ``target``), or the
            unlabeled rest of the training split (``needs`` has ``unlabeled``).
        teacher: A trained model to learn from (``needs`` has ``teacher``).
        plain_train: ``train`` without augmentation, for features computed once.
        source_val: Labeled source data held out of ``train`` (domain adaptation:
            the DEV validator weighs its losses).
        oracle: The target test set, ONLY for the clearly named per-epoch
            ``oracle_test_accuracy`` (never for selection or training).
        source: A labeled source stream beside the labeled target (``needs`` has ``source``
            but not ``target``); its labels index ``source_classes``.
        source_plain: ``source`` without augmentation.
        source_classes: The source's class names (they may differ from the target's).
        extras: Anything else a strategy family needs (e.g. a source validation split).
    """

    model: GraftModel
    train: Dataset
    val: Dataset | None
    train_config: TrainConfig
    seed: int = 0
    run_dir: Path | None = None
    resume: bool = False
    target: Dataset | None = None
    teacher: GraftModel | None = None
    plain_train: Dataset | None = None
    source_val: Dataset | None = None
    oracle: Dataset | None = None
    source: Dataset | None = None
    source_plain: Dataset | None = None
    source_classes: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def labeled_plain(self) -> Dataset:
        """Labeled training data without augmentation."""
        return self.plain_train if self.plain_train is not None else self.train

    def target_plain(self) -> Dataset | None:
        """Unlabeled target data without augmentation (features computed once, validators)."""
        plain = self.extras.get("target_plain")
        return self.target if plain is None else plain

    def trainer(self, *, config: TrainConfig | None = None, callbacks: list[Callback] | None = None,
                metrics: list[Any] | None = None, run_dir: Path | str | None = "same",
                start_is_candidate: bool = False, evaluator: Any = None,
                loss_clears_start: bool = False, later_wins_ties: bool = False,
                may_replace_start: Any = None, confirm_pick: Any = None) -> Trainer:
        """A Trainer for this run (a sub-step such as a probe may pass ``run_dir=None``)."""
        metrics = list(metrics or [])
        if (config or self.train_config).oracle_curve and not any(isinstance(m, OracleAccuracy) for m in metrics):
            metrics.append(OracleAccuracy(self))
        return Trainer(
            config or self.train_config, seed=self.seed,
            run_dir=self.run_dir if run_dir == "same" else run_dir,
            callbacks=callbacks or [], metrics=metrics, start_is_candidate=start_is_candidate,
            evaluator=evaluator, loss_clears_start=loss_clears_start, later_wins_ties=later_wins_ties,
            may_replace_start=may_replace_start, confirm_pick=confirm_pick,
        )


class OracleAccuracy:
    """Per epoch: accuracy on the target test set. An upper bound, never used to select."""

    def __init__(self, ctx: FitContext) -> None:
        self.test = ctx.oracle
        self.batch = max(ctx.train_config.batch_size, 256)

    def __call__(self, module: nn.Module) -> dict[str, float]:
        if self.test is None:
            return {}
        device = next(module.parameters()).device
        return {"oracle_test_accuracy": evaluate(module, self.test, self.batch, device)["accuracy"]}


class Strategy:
    """Base class: full training of every trainable parameter with cross-entropy.

    Subclasses override ``prepare`` (model surgery), ``param_groups``, ``step``,
    ``callbacks``, ``finish`` (undo surgery), or the whole ``fit`` for strategies that
    do not train in a loop.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[StrategyConfig]] = StrategyConfig
    #: Streams or models beyond labeled training data: "source", "target", "teacher",
    #: "unlabeled" (the unlabeled rest of the training split as a second stream).
    #: "source" with "target" is domain adaptation (the target's labels unused); "source"
    #: alone is a labeled source beside the labeled target. "source_head": the model must
    #: keep its source task's head (a ``run:DIR`` model).
    needs: ClassVar[frozenset[str]] = frozenset()
    #: With a labeled source: its classes must be the target's (its examples join the
    #: target's task); False where the source keeps its own task (multi-task).
    same_classes: ClassVar[bool] = True
    #: With "unlabeled" in ``needs``: a run without any unlabeled example is refused; False
    #: where the unlabeled stream only helps (distillation's transfer set).
    requires_unlabeled: ClassVar[bool] = True
    #: Engine options this strategy trains best with; the user's options override.
    train_defaults: ClassVar[dict[str, Any]] = {}
    #: Engine options that replace ``train_defaults`` for one input kind of the model ("text", "image",
    #: "table"); the user's options still override. Each entry says which figures chose it.
    kind_train_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Engine options that have no effect on this strategy (it does not train in the
    #: engine's loop); passing one is refused (:func:`graft.option_groups.check_unused`).
    ignores_engine_options: ClassVar[frozenset[str]] = frozenset()
    #: The strategy pulls the model toward its pretrained weights or features (L2-SP, DELTA):
    #: a model built with random weights (``--no-pretrained``) is refused.
    anchors_pretrained: ClassVar[bool] = False
    #: A paired validation-loss gain beyond the start margin also lets an epoch at least as
    #: accurate replace the competing start (:mod:`graft.engine.selection`); each strategy that
    #: sets it says why, with its figures.
    loss_clears_start: ClassVar[bool] = False
    #: Of epochs that validate equally, keep the later one rather than the one with the lower
    #: validation loss: for objectives that sharpen predictions as they train (pseudo-labels), where
    #: the loss favours the less trained epoch.
    later_wins_ties: ClassVar[bool] = False

    @classmethod
    def unset_value(cls, name: str, kind: str | None) -> Any:
        """What an unset option of this strategy resolves to for a model of input ``kind``, where that is
        decided before training (None where it is measured during the run, or not at all)."""
        return None

    @classmethod
    def train_defaults_for(cls, kind: str | None) -> dict[str, Any]:
        """The engine defaults of this strategy for a model of input ``kind`` (None: the general ones)."""
        return {**cls.train_defaults, **cls.kind_train_defaults.get(kind or "", {})}

    @classmethod
    def needs_for(cls, config: StrategyConfig) -> frozenset[str]:
        """The streams a run with ``config`` needs: ``needs``, plus those an option turns on."""
        return cls.needs

    @classmethod
    def held_out_target(cls, config: StrategyConfig) -> int:
        """Labeled target examples per class a run with ``config`` holds out to select (0: the usual validation
        split, ``--val-fraction``)."""
        return 0

    @classmethod
    def selects_by(cls, config: StrategyConfig) -> tuple[str, str] | None:
        """The history column that selects a run with ``config``, and how it reads in words, where the strategy
        chooses it (None: the engine's ``--monitor`` on the validation split)."""
        return None

    def __init__(self, config: StrategyConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()
        # Checked here too, not only by the API: a config built in Python reaches fit directly.
        self.config.validate(f"strategy '{self.name}'")

    def fit(self, ctx: FitContext) -> FitResult:
        """Adapt ``ctx.model`` in place and return the training record."""
        self.prepare(ctx)
        groups = self.param_groups(ctx)
        trainer = ctx.trainer(callbacks=self.callbacks(ctx), metrics=self.metrics(ctx),
                              start_is_candidate=self.start_is_candidate(ctx), evaluator=self.evaluator(ctx),
                              loss_clears_start=self.loss_clears_start, later_wins_ties=self.later_wins_ties)
        result = trainer.fit(self.module(ctx), groups, self.step, ctx.train, ctx.val, ctx.target,
                             resume=ctx.resume)
        # Counted before finish(): a merged adapter's parameters no longer exist afterwards.
        result.trainable_params = sum(p.numel() for p in ctx.model.parameters() if p.requires_grad)
        self.finish(ctx)
        return result

    def check(self, model: GraftModel, train: Dataset) -> None:
        """Refuse labeled training data this strategy cannot learn from (raise ConfigError);
        called before the run directory is written."""

    def prepare(self, ctx: FitContext) -> None:
        """Model surgery before training (freeze, reinitialise, add adapters)."""

    def finish(self, ctx: FitContext) -> None:
        """After training: fold an adapter (LoRA, IA3) into the weights so the saved
        model is a plain one."""
        from graft.models.adapters import merge_adapter

        merge_adapter(ctx.model)

    def module(self, ctx: FitContext) -> nn.Module:
        """The module the engine trains and validates (``forward(x)`` gives logits)."""
        return ctx.model

    def param_groups(self, ctx: FitContext) -> list[dict[str, Any]]:
        """Optimizer groups, all created up front."""
        from graft.engine.param_groups import model_param_groups

        return model_param_groups(ctx.model, weight_decay=ctx.train_config.weight_decay)

    def callbacks(self, ctx: FitContext) -> list[Callback]:
        return []

    def evaluator(self, ctx: FitContext) -> Any:
        """Per-example validation ``fn(module, val) -> {"loss", "accuracy"}`` replacing the
        engine's forward pass over the validation data; None keeps the engine's."""
        return None

    def start_is_candidate(self, ctx: FitContext) -> bool:
        """Whether the weights before training compete for selection (epoch 0)."""
        return False

    def metrics(self, ctx: FitContext) -> list[Any]:
        """Per-epoch metric functions ``fn(module) -> dict`` (label-free validators)."""
        return []

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        """Losses of one batch; ``loss`` is what is minimised."""
        return supervised_step(module, batch)


def supervised_step(module: nn.Module, batch: Batch, label_smoothing: float = 0.0) -> dict[str, torch.Tensor]:
    """Cross-entropy on the labeled batch, with accuracy for the history."""
    logits = module(batch["x"])
    y = batch["y"]
    loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    acc = (logits.detach().argmax(1) == y).float().mean()
    return {"loss": loss, "accuracy": acc}


class ModelWithExtras(nn.Module):
    """The model plus a strategy's extra parts (a domain discriminator, a projection, a running
    class prior), so that they train, checkpoint and resume with it.

    ``forward`` is the model's, so the engine validates it like any classifier.
    """

    def __init__(self, model: nn.Module, extras: dict[str, nn.Module]) -> None:
        super().__init__()
        self.model = model
        self.extras = nn.ModuleDict(extras)

    def forward(self, x: Any, return_features: bool = False) -> Any:
        return self.model(x, return_features=return_features)


def module_extras(module: nn.Module) -> nn.ModuleDict:
    """The ``extras`` of a strategy's training module (a discriminator, a projection, a source head).

    ``module`` may be wrapped (Fabric, DDP), which forwards attributes; the check gives the
    result a type, since ``nn.Module`` attributes are untyped.
    """
    extras = getattr(module, "extras", None)
    if not isinstance(extras, nn.ModuleDict):
        raise TypeError(f"{type(module).__name__} has no 'extras' ModuleDict: the strategy's prepare() makes one.")
    return extras


STRATEGIES: Registry[type[Strategy]] = Registry("strategy")


def register_strategy(name: str, help: str) -> Any:
    """Register a Strategy subclass under ``name``."""

    def add(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        return STRATEGIES.register(name, help)(cls)

    return add
