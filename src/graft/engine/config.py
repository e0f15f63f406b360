"""The engine's typed configuration, validated before any work starts.

Each option is declared once, next to its field (:func:`graft.options.option`); its help,
type and allowed values feed validation, ``graft list --options``, ``--help`` and
``docs/options.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graft.engine.schedules import SCHEDULES
from graft.errors import ConfigError
from graft.options import Options, Search, option

if TYPE_CHECKING:
    import torch

OPTIMIZERS = ("adamw", "sgd")
PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "64-true", "32", "16", "bf16")
ACCELERATORS = ("auto", "cpu", "cuda", "gpu", "mps", "tpu")
#: Lightning Fabric strategies graft runs (``ddp`` finds unused parameters: see engine.fabric). Not the
#: spawn and fork variants: they start processes from a function, and graft's runs are whole scripts.
#: Not FSDP yet: see :meth:`TrainConfig.validate`.
FABRIC_STRATEGIES = ("auto", "ddp")


def _augmentations() -> Iterable[str]:
    # Read from the data layer's registry when needed, so the names are declared once there.
    from graft.data.transforms import AUGMENTATIONS

    return AUGMENTATIONS


@dataclass
class TrainConfig(Options):
    """How the engine trains; strategies set their own defaults (``train_defaults``).

    Each field's help is in its declaration (``graft list --options STRATEGY``).
    """

    option_owner = "the engine"

    epochs: int = option(30, help="Passes over the labeled training data.", ge=1)
    batch_size: int = option(32, help="Labeled examples per step (and target examples, for two streams).", ge=1)
    # Searched around each strategy's own default: an SGD strategy's 0.01 and an AdamW one's 1e-3.
    lr: float = option(1e-3, help="Base learning rate; each parameter group's is lr × its lr_scale.", gt=0,
                       search=Search(0.1, 10.0, log=True, relative=True))
    optimizer: str = option("adamw", help="adamw, or sgd (with Nesterov momentum).", choices=OPTIMIZERS)
    # Relative: a strategy that sets 0 (l2sp, delta regularise otherwise) keeps it.
    weight_decay: float = option(0.01, help="Decay of weights (not of norms or biases).", ge=0,
                                 search=Search(0.1, 10.0, log=True, relative=True))
    momentum: float = option(0.9, help="SGD momentum.", ge=0, lt=1)
    schedule: str = option("cosine", help="Learning-rate schedule after the warm-up.", choices=SCHEDULES)
    warmup_epochs: float = option(0.0, help="Linear warm-up length in epochs (fractions allowed).", ge=0)
    min_lr_ratio: float = option(0.0, help="Final LR as a fraction of the base, for cosine, linear and poly.",
                                 ge=0, le=1)
    gamma: float = option(0.1, help="Decay factor of the exp, step and plateau schedules.", gt=0, le=1)
    step_epochs: int = option(10, help="Epochs between decays of the step schedule.", ge=1)
    inv_gamma: float = option(0.001, help="inv schedule: LR × (1 + inv_gamma·step)^−inv_power.", ge=0)
    inv_power: float = option(0.75, help="Exponent of the inv schedule.", ge=0)
    plateau_patience: int = option(2, help="Epochs without improvement before the plateau schedule decays.",
                                   ge=0)
    patience: int | None = option(
        None, help="Stop after this many epochs without improvement of --monitor; the best epoch is restored.",
        ge=1, example=5, unset="train every epoch")
    monitor: str = option(
        "val_accuracy", help="Validation metric that selects the checkpoint: val_accuracy, val_loss, or a "
        "label-free validator's name.")
    start_margin_se: float = option(
        1.0, help="A trained epoch replaces a competing start (LP-FT's probe) only when its validation gain "
        "exceeds this many standard errors; 0 keeps any gain.", ge=0)
    # Unset, a small labeled source cycles rather than cutting short the use of a large target.
    steps_per_epoch: int | None = option(
        None, help="Fixed optimizer steps per epoch.", ge=1, example=100,
        unset="make one pass over the larger of the labeled and unlabeled streams")
    grad_clip: float | None = option(None, help="Clip the gradient norm to this value.", gt=0, example=1.0,
                                     unset="leave gradients unclipped")
    ema_decay: float | None = option(
        None, help="Validate, select and save an exponential moving average of the weights, updated every "
        "step with this decay (warmed up over the first steps); 0.99 averages about the last 100 steps.",
        gt=0, lt=1, example=0.99, unset="validate and save the raw weights")
    augment: str = option("none", help="Train-time augmentation of the labeled images.", choices=_augmentations)
    accelerator: str = option("auto", help="Lightning Fabric accelerator.", choices=ACCELERATORS)
    devices: str = option("1", help="Fabric devices: a count, comma-separated device ids, or auto.",
                          pattern=r"auto|-1|[0-9]+(,[0-9]+)*,?",
                          allowed_text="a count, comma-separated device ids (0,1), or auto")
    num_nodes: int = option(1, help="Machines taking part (multi-node DDP, launched by torchrun or a cluster "
                            "scheduler on each; see the README).", ge=1)
    fabric_strategy: str = option(
        "auto", help="Fabric strategy for --devices N: ddp (data parallel on CPU processes or GPUs; auto is ddp "
        "with several devices).", choices=FABRIC_STRATEGIES)
    precision: str = option("32-true", help="Fabric precision.", choices=PRECISIONS)
    num_workers: int = option(0, help="DataLoader worker processes.", ge=0)
    progress: bool = option(True, help="Show a progress bar (the global --quiet turns it off).")
    # For benchmarks: whether a selection rule leaves accuracy on the table. Domain adaptation records
    # it always (its label-free validators are judged against it).
    oracle_curve: bool = option(
        False, help="Score the test split after every epoch (oracle_test_accuracy in history.csv, "
        "oracle_epoch in metrics.json): an upper bound, never used to select; costs a test pass an epoch.")
    checkpoint_every: float = option(
        10.0, help="Seconds of training between epoch checkpoints for --resume (0: after every epoch); "
        "a run shorter than this writes none.", ge=0)

    def validate(self, owner: str | None = None) -> None:
        """Declared rules (FSDP said apart), then: no more GPUs than are visible."""
        if self.fabric_strategy.startswith("fsdp"):
            # Epoch selection, checkpoints and the saved model read the module's full weights, which FSDP
            # shards; until that path runs on GPUs under test, a run would save shards silently.
            raise ConfigError(
                f"--fabric-strategy {self.fabric_strategy} is not available yet: graft's epoch selection, "
                "checkpoints and saved model read the full weights, which FSDP shards across devices (and "
                "PyTorch's FSDP refuses the CPU). Allowed: auto, ddp. Fix: pass --fabric-strategy ddp (each "
                "device holds the whole model); to fit a large model, --strategy lora (--adapter lora on a "
                "domain-adaptation strategy)."
            )
        super().validate(owner)
        _check_monitor(self.monitor)
        import torch

        gpus = torch.cuda.device_count()
        on_gpu = runs_on_gpu(self.accelerator)
        if self.accelerator in ("cuda", "gpu") and gpus == 0:
            raise no_gpu("--accelerator", self.accelerator)
        wanted = device_count(self.devices)
        if on_gpu and wanted is not None and wanted > gpus:
            raise ConfigError(
                f"--devices {self.devices} asks for {wanted} GPU(s) but {gpus} are visible. Allowed: at most "
                f"{gpus}, or auto. Fix: pass --devices {gpus} (CUDA_VISIBLE_DEVICES limits what is visible)."
            )


def _check_monitor(monitor: str) -> None:
    """A metric the engine can compute: a validation or training metric (the trainer names the exact
    ones after the first epoch) or a label-free validator; a typo is refused before the run starts."""
    from graft.selection import VALIDATORS

    if monitor.startswith(("val_", "train_")) or monitor in VALIDATORS:
        return
    raise ConfigError(
        f"The '--monitor' option must be a validation metric (val_accuracy, val_loss), a training metric "
        f"(train_loss, train_accuracy) or a label-free validator ({', '.join(sorted(VALIDATORS))}). Got "
        f"'{monitor}' instead. Fix: pass e.g. --monitor val_accuracy."
    )


def runs_on_gpu(accelerator: str) -> bool:
    """Whether ``--accelerator`` means GPUs here (``auto`` does when one is visible)."""
    import torch

    return accelerator in ("cuda", "gpu") or (accelerator == "auto" and torch.cuda.is_available())


def no_gpu(flag: str, value: str) -> ConfigError:
    """The error for ``flag value`` asking for a GPU where PyTorch sees none."""
    return ConfigError(f"{flag} {value} needs a GPU, but PyTorch sees none (no CUDA device, or a CPU-only build "
                       f"of torch). Allowed here: cpu, auto. Fix: pass {flag} auto.")


def work_device(accelerator: str) -> torch.device:
    """Where work outside Fabric's training loop runs (a probe's feature extraction, a teacher's
    cached outputs): the current GPU when ``--accelerator`` means GPUs here, else the CPU."""
    import torch

    return torch.device("cuda") if runs_on_gpu(accelerator) and torch.cuda.is_available() else torch.device("cpu")


def process_count(devices: str, num_nodes: int | str = 1, accelerator: str = "auto") -> int:
    """How many processes Fabric starts for ``--devices``, ``--num-nodes`` and ``--accelerator``."""
    import torch

    text = str(devices).strip(",")
    if text in ("auto", "-1"):  # every GPU, or one CPU process
        per_node = torch.cuda.device_count() if runs_on_gpu(accelerator) else 1
    else:
        per_node = len(text.split(",")) if "," in text else int(text)
    return per_node * int(num_nodes)


def device_count(devices: str) -> int | None:
    """How many devices ``--devices`` names (ids count by the highest id + 1); None for auto and -1."""
    text = devices.strip(",")
    if text in ("auto", "-1"):
        return None
    if "," in devices:
        return max(int(i) for i in text.split(",")) + 1
    return int(text)
