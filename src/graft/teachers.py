"""The teacher of a distillation run: loaded whole (its head is the point), checked
against the data, given its own view of every example, and measured beside the student.

A teacher is a model trained on the data's task: ``run:DIR`` (a finished graft run, its
head kept) or, in Python, a :class:`~graft.models.spec.GraftModel`. It reads the data
through its own input schema (a table's fitted preprocessing) and input spec (size,
channels, normalisation, tokenizer), which may differ from the student's in every way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from graft.data.base import DataSource
from graft.data.schema import InputSchema
from graft.errors import ConfigError, DataError
from graft.models.spec import GraftModel
from graft.streams import TeacherInputs


def load_teacher(spec: Any) -> tuple[GraftModel, InputSchema | None, str]:
    """The teacher model, the schema it read its data with (None if unknown), and its name."""
    if isinstance(spec, GraftModel):
        return spec, None, type(spec).__name__
    if isinstance(spec, (str, Path)) and str(spec).startswith("run:"):
        from graft.models.factory import _model_dir, load_model

        directory = _model_dir(Path(str(spec)[4:]).expanduser())
        return load_model(directory), InputSchema.load(directory), str(spec)
    got = type(spec).__name__ if not isinstance(spec, str) else f"'{spec}'"
    raise ConfigError(
        f"--teacher must be a model trained on this task; got {got}. Allowed: run:DIR (a finished graft "
        "run) or, in Python, a GraftModel. Fix: train the teacher first (graft fit --model SPEC --data SPEC "
        "--out DIR), then pass --teacher run:DIR."
    )


def check_teacher(teacher: GraftModel, name: str, data: DataSource) -> None:
    """The teacher must take the data's kind of input and predict exactly its classes."""
    kind = teacher.spec.input.kind
    if kind != data.kind:
        raise DataError(
            f"The teacher {name} takes {kind} input but {data.name} holds {data.kind} data. Allowed: a teacher "
            f"trained on {data.kind} data of this task. Fix: pass the run that was trained on this data."
        )
    if list(teacher.classes) != list(data.classes):
        t_cls, d_cls = list(teacher.classes), list(data.classes)
        only_t, only_d = sorted(set(t_cls) - set(d_cls)), sorted(set(d_cls) - set(t_cls))
        detail = (f"only the teacher's: {only_t[:8]}; only the data's: {only_d[:8]}" if only_t or only_d
                  else "the same names in another order")
        raise DataError(
            f"The teacher {name} predicts other classes than {data.name} holds ({detail}). Allowed: a teacher "
            f"with exactly the data's classes {d_cls[:8]}. Fix: distil from a run trained on this data's labels."
        )


def teacher_inputs(teacher: GraftModel, schema: InputSchema | None, raw: DataSource, encoded: DataSource,
                   raw_extra: DataSource | None, encoded_extra: DataSource | None) -> TeacherInputs:
    """The data as the teacher reads it: a table through the teacher's own fitted
    preprocessing (its columns matched by name); images and text as they are."""
    if schema is not None and raw.kind == "table":
        return TeacherInputs(teacher.spec.input, schema.apply(raw),
                             schema.apply(raw_extra) if raw_extra is not None else None)
    return TeacherInputs(teacher.spec.input, encoded, encoded_extra)


@torch.no_grad()
def teacher_outputs(teacher: GraftModel, data: Any, batch_size: int, device: torch.device | str | None = None
                    ) -> list[Any]:
    """The teacher's logits and pooled features on every example of ``data`` (its own inputs), on
    ``device`` (the teacher is moved there; None: where it is)."""
    from torch.utils.data import DataLoader

    from graft.data.paired import TeacherOutputs
    from graft.engine.evaluate import module_device, move_to

    was_training = teacher.training
    teacher.eval()
    if device is None:
        device = module_device(teacher)
    teacher.to(device)
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=getattr(data, "collate", None))
    out: list[TeacherOutputs] = []
    for x, _ in loader:
        x = move_to(x, device)
        feats = teacher.forward_features(x)
        logits = teacher.forward_head(feats)
        out.extend(TeacherOutputs(lo, f) for lo, f in zip(logits.float().cpu(), feats.float().cpu()))
    teacher.train(was_training)
    return out


def teacher_figures(teacher: GraftModel, test: Any, batch_size: int) -> dict[str, Any]:
    """The teacher's test accuracy and cost, reported beside the student's (``teacher_*`` keys)."""
    from graft.models.cost import model_cost

    figures: dict[str, Any] = {}
    if test is not None and len(test):
        outs = teacher_outputs(teacher, test, batch_size)
        pred = torch.stack([o.logits for o in outs]).argmax(1).numpy()
        y = np.asarray(getattr(test, "targets", None) if hasattr(test, "targets")
                       else [int(test[i][1]) for i in range(len(test))])
        figures["teacher_test_accuracy"] = float((pred == y).mean())
    cost = model_cost(teacher, teacher.spec.input)
    figures.update({f"teacher_{k}": v for k, v in cost.items()})
    return figures


def freeze(model: nn.Module) -> None:
    """No gradient ever reaches the teacher; it stays in eval mode (batch norm, dropout)."""
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
