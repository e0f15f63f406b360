"""Two models' views of the same examples (distillation: a student and a teacher).

Each model reads data through its own input spec (size, channels, normalisation,
tokenizer), so the student's and the teacher's inputs of one example are built by two
datasets over the same rows. :class:`PairedViews` joins them item by item; when the
images are augmented, both views replay the same random numbers, so the teacher sees the
same shift and zoom of the same image as the student (the affine grid is in normalised
coordinates, so one draw means one geometric transform at any size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch.utils.data import Dataset
from torch.utils.data._utils.collate import default_collate

from graft.data.base import dataset_size


class Views(NamedTuple):
    """The inputs of one example (or one batch) for the student and for the teacher."""

    student: Any
    teacher: Any


class TeacherOutputs(NamedTuple):
    """The teacher's outputs on an example, computed once (the teacher's side of a cached view)."""

    logits: torch.Tensor
    features: torch.Tensor


def _collate_side(collate: Callable[[list[Any]], Any] | None, items: list[Any]) -> Any:
    """One side's batch through that side's own collate (token padding) or the default."""
    labeled = [(x, 0) for x in items]
    return (collate or default_collate)(labeled)[0]


class PairedViews(Dataset[tuple[Views, int]]):
    """Items ``(Views(student_x, teacher_x), y)`` of two datasets over the same rows.

    Args:
        student: The student's dataset (its labels are the pair's).
        teacher: The teacher's dataset over the same rows in the same order, or a
            sequence of :class:`TeacherOutputs` (the teacher's outputs, cached).
    """

    def __init__(self, student: Dataset, teacher: Dataset | Sequence[TeacherOutputs]) -> None:
        if dataset_size(student) != dataset_size(teacher):
            raise ValueError(
                f"PairedViews: {dataset_size(student)} student rows but {dataset_size(teacher)} teacher rows."
            )
        self.student = student
        self.teacher = teacher
        self.targets = getattr(student, "targets", None)
        self._collates = (getattr(student, "collate", None), getattr(teacher, "collate", None))

    @property
    def cached(self) -> bool:
        return not isinstance(self.teacher, Dataset)

    def __len__(self) -> int:
        return dataset_size(self.student)

    def __getitem__(self, i: int) -> tuple[Views, int]:
        if self.cached:
            x, y = self.student[i]
            return Views(x, self.teacher[i]), y
        state = torch.get_rng_state()
        x, y = self.student[i]
        torch.set_rng_state(state)  # the teacher's view replays the student's augmentation draws
        return Views(x, self.teacher[i][0]), y

    def collate(self, items: list[tuple[Views, int]]) -> tuple[Views, torch.Tensor]:
        s_collate, t_collate = self._collates
        students = _collate_side(s_collate, [v.student for v, _ in items])
        if self.cached:
            teachers: Any = TeacherOutputs(torch.stack([v.teacher.logits for v, _ in items]),
                                           torch.stack([v.teacher.features for v, _ in items]))
        else:
            teachers = _collate_side(t_collate, [v.teacher for v, _ in items])
        return Views(students, teachers), torch.tensor([y for _, y in items], dtype=torch.long)


def student_side(data: Dataset) -> Dataset:
    """The student's dataset of a paired one (a plain dataset is returned as it is)."""
    return data.student if isinstance(data, PairedViews) else data
