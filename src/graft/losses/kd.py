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


def _pearson_rows(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """Pearson correlation of each row of ``a`` with the same row of ``b``."""
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def dist_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 4.0,
              inter: float = 1.0, intra: float = 1.0) -> Tensor:
    """DIST (Huang et al. 2022): match the teacher's predictions by correlation, not exactly.

    ``T^2 * (inter * (1 - mean_i ρ(p_s[i], p_t[i])) + intra * (1 - mean_c ρ(p_s[:, c], p_t[:, c])))``
    with ``p = softmax(logits / T)``: the inter-class term keeps each example's ranking of the
    classes, the intra-class term each class's ranking of the examples. A student much
    smaller than its teacher cannot match its probabilities exactly, only their relations.
    """
    check_matrix(student_logits, "student_logits")
    check_same_shape(student_logits, teacher_logits, "student_logits", "teacher_logits")
    check_positive(temperature, "temperature", "dist_loss")
    p_s = F.softmax(student_logits / temperature, dim=1)
    p_t = F.softmax(teacher_logits / temperature, dim=1)
    between = 1.0 - _pearson_rows(p_s, p_t).mean()
    within = 1.0 - _pearson_rows(p_s.t(), p_t.t()).mean() if len(p_s) > 1 else p_s.new_zeros(())
    return temperature**2 * (inter * between + intra * within)


def standardized_kd_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 2.0) -> Tensor:
    """Logit-standardised KD (Sun et al. 2024): :func:`kd_loss` on z-scored logits.

    Each example's logits are centred and divided by their standard deviation first, so
    the student matches the teacher's logit *relations* and not their scale, which a
    small student cannot reach.
    """
    check_matrix(student_logits, "student_logits")
    check_same_shape(student_logits, teacher_logits, "student_logits", "teacher_logits")

    def z(t: Tensor) -> Tensor:
        return (t - t.mean(1, keepdim=True)) / (t.std(1, keepdim=True) + 1e-7)

    return kd_loss(z(student_logits), z(teacher_logits), temperature)
