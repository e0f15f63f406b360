"""Building the Lightning Fabric object from a TrainConfig."""

from __future__ import annotations

import logging
from pathlib import Path

from lightning_fabric import Fabric

from graft.engine.config import TrainConfig
from graft.engine.ranks import is_main_process  # noqa: F401  (re-exported)


def make_fabric(config: TrainConfig, run_dir: Path | None) -> Fabric:
    """A launched Fabric with CSV and TensorBoard loggers under ``run_dir/logs``."""
    loggers = []
    if run_dir is not None:
        from lightning_fabric.loggers import CSVLogger, TensorBoardLogger

        loggers = [
            CSVLogger(root_dir=str(run_dir / "logs"), name="csv", version=0),
            TensorBoardLogger(root_dir=str(run_dir / "logs"), name="tensorboard", version=0),
        ]
    devices: int | str = int(config.devices) if str(config.devices).isdigit() else config.devices
    for name in ("lightning.fabric", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    fabric = Fabric(
        accelerator=config.accelerator,
        devices=devices,
        num_nodes=config.num_nodes,
        strategy=_strategy(config),
        precision=_precision(config),  # type: ignore[arg-type]
        loggers=loggers,
    )
    if fabric.world_size > 1:
        fabric.launch()
    return fabric


def _strategy(config: TrainConfig) -> str:
    """DDP finds unused parameters: a step may leave a trainable part idle (the discriminator
    during a warm start, a layer a freeze schedule holds), which plain DDP refuses. ``auto`` with
    several processes is DDP too."""
    from graft.engine.config import process_count

    name = config.fabric_strategy
    several = process_count(config.devices, config.num_nodes, config.accelerator) > 1
    if name == "ddp" or (name == "auto" and several):
        return "ddp_find_unused_parameters_true"
    return name


#: Lightning's short precision names, written out (it warns about the short ones).
_PRECISION_NAMES = {"32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed", "64": "64-true"}


def _precision(config: TrainConfig) -> str:
    """The precision to run at: fp16 autocast needs a GPU; on CPU it becomes bf16, with a note."""
    import torch

    precision = _PRECISION_NAMES.get(config.precision, config.precision)
    on_cpu = config.accelerator == "cpu" or (config.accelerator == "auto" and not torch.cuda.is_available())
    if precision == "16-mixed" and on_cpu:
        from graft.notes import note

        note("--precision 16-mixed needs a GPU (fp16 autocast); on the CPU it runs as bf16-mixed. "
             "Fix: pass --precision bf16-mixed or 32-true to say so.")
        return "bf16-mixed"
    return precision
