"""Self-supervised pretraining on data WITHOUT labels: ``graft pretrain --method simclr|rotation``.

* ``simclr`` (Chen et al., 2020): two random views of each image (shift, rotation, zoom,
  blur, cutout, brightness and contrast) must find each other among the batch (NT-Xent
  through a projection head that is discarded afterwards). For text, the two views are the
  same sentence through the encoder twice with its dropout on (SimCSE, Gao et al., 2021):
  no text augmentation keeps the meaning as reliably, and it needs nothing beyond the model.
* ``rotation`` (Gidaris et al., 2018): images rotated by 0/90/180/270 degrees, the model
  predicts which; square images only.

Labels in the data are ignored (a labeled folder, a flat folder, a CSV without a label
column, an npz with only X). The result is a run directory usable as ``--model run:DIR``:
its backbone is the pretrained one; its head (the pretext task's) is replaced by a new one
for the target's classes. The methods are strategies of the engine (same loop, checkpoints,
resume, progress) that are not listed among ``graft fit``'s: they need no labels at all.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from graft.data.batch_augment import cutout_batch, gaussian_blur_batch, random_affine_batch
from graft.data.batching import concat_inputs
from graft.engine.evaluate import to_cpu
from graft.engine.param_groups import model_param_groups
from graft.engine.trainer import Batch
from graft.errors import ConfigError
from graft.losses import nt_xent_loss
from graft.options import option
from graft.registry import Registry
from graft.strategies.base import FitContext, ModelWithExtras, Strategy, StrategyConfig, module_extras

SELF_SUPERVISED: Registry[type[Strategy]] = Registry("self-supervised pretraining method")


@dataclass
class SimCLRConfig(StrategyConfig):
    """Options of ``pretrain --method simclr``; each field's help is in its declaration."""

    option_owner = "pretraining method 'simclr'"
    temperature: float | None = option(None, help="Temperature of the NT-Xent loss.", gt=0, example=0.2,
                                       unset="0.2 for images, 0.05 for text (SimCSE)")
    projection_dim: int = option(128, help="Output width of the projection head (discarded after).", ge=1)
    view_shift: float = option(0.15, help="Largest random shift of a view (fraction of the size).", ge=0, lt=1)
    view_rotate: float = option(15.0, help="Largest rotation of a view, in degrees.", ge=0, le=180)
    cutout: float = option(0.25, help="Side of the square cut out of a view (fraction of the size).", ge=0, lt=1)
    jitter: float = option(0.4, help="Largest brightness and contrast change of a view (fraction).", ge=0, lt=1)


@SELF_SUPERVISED.register("simclr", "contrast two random views of each example (SimCLR; SimCSE dropout views for text)")
class SimCLR(Strategy):
    name = "simclr"
    Config = SimCLRConfig
    config: SimCLRConfig
    kinds: ClassVar[tuple[str, ...]] = ("image", "text")
    #: The pretext task's "classes": the head is a placeholder that the target replaces.
    pretext_classes: ClassVar[list[str]] = ["embedding"]
    train_defaults: ClassVar[dict[str, Any]] = {
        "epochs": 20, "lr": 1e-3, "batch_size": 128, "weight_decay": 1e-4, "warmup_epochs": 1.0,
        "schedule": "cosine", "augment": "none", "patience": None,
    }

    def prepare(self, ctx: FitContext) -> None:
        dim = ctx.model.spec.feature_dim
        # Batch norm, the last one without affine (as in MoCo v3's projector), centres the output:
        # features after a ReLU share a large common component that makes every pair look alike
        # to the cosine, and the loss barely moves off log(2B) without it.
        projection = nn.Sequential(nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(),
                                   nn.Linear(dim, self.config.projection_dim),
                                   nn.BatchNorm1d(self.config.projection_dim, affine=False))
        self._module = ModelWithExtras(ctx.model, {"projection": projection})
        self._text = ctx.model.spec.input.kind == "text"
        self._temperature = self.config.temperature or (0.05 if self._text else 0.2)

    def module(self, ctx: FitContext) -> nn.Module:
        return self._module

    def callbacks(self, ctx: FitContext) -> list[Any]:
        return [] if self._text else [_NoDropout(ctx.model)]

    def param_groups(self, ctx: FitContext) -> list[dict[str, Any]]:
        return model_param_groups(ctx.model, weight_decay=ctx.train_config.weight_decay,
                                  extra=dict(self._module.extras.items()))

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        x = batch["x"]
        if self._text:  # the encoder's dropout makes the two passes two views
            both = concat_inputs(x, x)
        else:
            both = torch.cat([self._view(x), self._view(x)])
        _, feats = module(both, return_features=True)
        z = module_extras(module)["projection"](feats)
        n = len(z) // 2
        loss = nt_xent_loss(z[:n], z[n:], self._temperature)
        with torch.no_grad():  # how often a view's nearest neighbour is its twin
            zn = F.normalize(z, dim=1)
            sim = zn @ zn.T - 2 * torch.eye(len(z), device=z.device)
            twin = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
            acc = (sim.argmax(1) == twin).float().mean()
        return {"loss": loss, "twin_accuracy": acc}

    def _view(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        v = random_affine_batch(x, cfg.view_shift, cfg.view_rotate, (0.8, 1.2))
        v = cutout_batch(gaussian_blur_batch(v, max_sigma=1.0), cfg.cutout)
        b = x.shape[0]
        scale = 1 + (torch.rand(b, 1, 1, 1, device=x.device) * 2 - 1) * cfg.jitter
        shift = (torch.rand(b, 1, 1, 1, device=x.device) * 2 - 1) * cfg.jitter
        return v * scale + shift


class _NoDropout:
    """Images: the views come from the augmentations; the backbone's dropout stays off (LeNet's
    p=0.5 makes two passes of one image as different as two images)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def on_epoch_start(self, epoch: int, module: nn.Module) -> None:
        for m in self.model.modules():
            if isinstance(m, nn.modules.dropout._DropoutNd):
                m.eval()


@SELF_SUPERVISED.register("rotation", "predict which of 0/90/180/270 degrees each image was rotated by")
class Rotation(Strategy):
    name = "rotation"
    Config = StrategyConfig
    kinds: ClassVar[tuple[str, ...]] = ("image",)
    pretext_classes: ClassVar[list[str]] = ["0", "90", "180", "270"]
    train_defaults: ClassVar[dict[str, Any]] = {
        "epochs": 15, "lr": 1e-3, "batch_size": 64, "weight_decay": 1e-4, "warmup_epochs": 0.5,
        "schedule": "cosine", "augment": "light", "patience": None,
    }

    def step(self, module: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        x = batch["x"]
        rotated = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(4)])
        y = torch.arange(4, device=x.device).repeat_interleave(len(x))
        logits = module(rotated)
        loss = F.cross_entropy(logits, y)
        return {"loss": loss, "accuracy": (logits.detach().argmax(1) == y).float().mean()}


def pretrain_self_supervised(method: str, model: Any, data: Any, *, out: str | Path | None = None, seed: int = 0,
                             resume: bool = False, overwrite: bool = False, **options: Any) -> Any:
    """Pretrain ``model`` on ``data`` with the self-supervised ``method``; returns the finished Run."""
    from graft.data import load_source, make_dataset
    from graft.data.schema import InputSchema
    from graft.engine.config import TrainConfig
    from graft.models import DataInfo, build_model, check_model_spec, save_model
    from graft.notes import work_started
    from graft.option_groups import split_options
    from graft.options import build_config
    from graft.report import write_run_report
    from graft.run import Run
    from graft.run_dir import (
        check_run_dir,
        default_run_dir,
        start_run_dir,
        write_history,
        write_metrics,
    )
    from graft.run_options import RunOptions

    cls = SELF_SUPERVISED.get(method)
    run_opts, own_opts, train_opts = split_options(cls, options, named=("seed", "out", "resume", "overwrite"))
    run_cfg = build_config(RunOptions, run_opts, "graft pretrain")
    method_cfg = build_config(cls.Config, own_opts, f"pretraining method '{method}'")
    train_cfg = build_config(TrainConfig, {**cls.train_defaults, **train_opts}, "the engine")
    train_cfg.validate()
    if isinstance(model, str):
        check_model_spec(model)
    if out is not None and not resume:
        check_run_dir(Path(out), resume=resume, overwrite=overwrite)

    source = load_source(data, **run_cfg.load_options(), require_labels=False)
    kinds: tuple[str, ...] = getattr(cls, "kinds", ())
    if source.kind not in kinds:
        fits = [n for n in SELF_SUPERVISED if source.kind in getattr(SELF_SUPERVISED.get(n), "kinds", ())]
        raise ConfigError(
            f"pretrain --method {method} needs {' or '.join(kinds)} data (its views are made from them), but "
            f"{source.name} holds {source.kind} data. Allowed for {source.kind} data: "
            f"{', '.join([*fits, 'supervised (with labels)'])}. Fix: pass --method "
            f"{(fits or ['supervised'])[0]}, or {' or '.join(kinds)} data."
        )
    rows = np.arange(len(source), dtype=np.int64)
    schema = InputSchema.fit([(source, rows)])
    classes = list(cls.pretext_classes)  # type: ignore[attr-defined]
    schema = dataclasses.replace(schema, classes=classes, class_values=list(classes))
    source = dataclasses.replace(schema.apply(source), classes=classes,
                                 y=np.full(len(source), -1, dtype=np.int64),
                                 meta={**source.meta, "class_values": list(classes)})
    torch.manual_seed(seed)
    net = build_model(model, DataInfo.from_source(source), run_cfg.model_options())
    if method == "rotation" and net.spec.input.size and net.spec.input.size[0] != net.spec.input.size[1]:
        raise ConfigError(f"pretrain --method rotation needs square images; the model takes {net.spec.input.size}. "
                          "Fix: pass --image-size N.")
    train = make_dataset(source, rows, net.spec.input, augment=train_cfg.augment)
    model_name = model if isinstance(model, str) else type(model).__name__
    run_dir = Path(out) if out is not None else default_run_dir(f"pretrain-{method}", model_name, source.name, seed)
    config = {"strategy": f"pretrain:{method}", "model": model_name, "data": source.name, "seed": seed,
              **dataclasses.asdict(run_cfg), "strategy_options": dataclasses.asdict(method_cfg),
              "train": dataclasses.asdict(train_cfg), "input_schema": schema.describe(net.spec.input)}
    start_run_dir(run_dir, config, resume=resume, overwrite=overwrite)
    work_started()
    ctx = FitContext(model=net, train=train, val=None, train_config=train_cfg, seed=seed, run_dir=run_dir,
                     resume=resume)
    t0 = time.perf_counter()
    result = cls(method_cfg).fit(ctx)
    last = result.history[-1] if result.history else {}
    metrics: dict[str, Any] = {
        "strategy": f"pretrain:{method}", "model": model_name, "data": source.name, "seed": seed,
        "n_train_labeled": 0, "n_pretrain": len(rows), "test_accuracy": None, "test_macro_f1": None,
        "val_accuracy": None, "selected_by": result.selected_by, "selected_epoch": result.best_epoch,
        "pretext_loss": last.get("train_loss"),
        **{f"pretext_{k[len('train_'):]}": v for k, v in last.items() if k.endswith("accuracy")},
        "trainable_params": result.trainable_params, "total_params": sum(p.numel() for p in net.parameters()),
        "train_seconds": result.seconds or time.perf_counter() - t0, "peak_memory_mb": result.peak_memory_mb,
        "epochs_run": result.epochs_run,
    }
    from graft.engine.ranks import is_main_process

    if is_main_process():
        save_model(net, run_dir / "model")
        schema.save(run_dir / "model")
        write_history(run_dir, result.history)
        write_run_report(run_dir, metrics, config, result.history, None, classes)
        write_metrics(run_dir, metrics)
        if (run_dir / "checkpoints").exists():
            shutil.rmtree(run_dir / "checkpoints")
    return Run(run_dir, to_cpu(net), metrics, config, result.history, schema)
