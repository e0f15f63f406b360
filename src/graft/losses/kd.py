"""Knowledge distillation losses: logit KD (Hinton et al. 2015) and feature KD."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from graft.losses._checks import check_matrix, check_positive, check_same_shape


def kd_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 4.0) -> Tensor:
    """``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, averaged over the batch.

    The ``T^2`` factor keeps the gradient scale independent of the temperature.
    The teacher is not detached here: compute its logits under ``torch.no_grad()``.

    Args:
        student_logits: Student logits ``[N, C]``.
        teacher_logits: Teacher logits ``[N, C]``.
        temperature: Softening temperature ``T``.
    """
    check_matrix(student_logits, "student_logits")
    check_same_shape(student_logits, teacher_logits, "student_logits", "teacher_logits")
    check_positive(temperature, "temperature", "kd_loss")
    log_s = F.log_softmax(student_logits / temperature, dim=1)
    log_t = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = F.kl_div(log_s, log_t, reduction="batchmean", log_target=True)
    return kl * temperature**2


def feature_kd_loss(student_feat: Tensor, teacher_feat: Tensor) -> Tensor:
    """Mean squared error between student and teacher features of the same shape.

    Project the student's features to the teacher's width first when they differ.
    """
    check_same_shape(student_feat, teacher_feat, "student_feat", "teacher_feat")
    return F.mse_loss(student_feat, teacher_feat)
