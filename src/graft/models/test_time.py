"""Test-time augmentation: an image model's class probabilities averaged over fixed views.

Each example is predicted as it is and through ``views`` fixed shifted, rotated and zoomed
copies (the ranges of ``contrastive``'s second views). The views are the same for every
example and every call, so a prediction never depends on the batch it falls in, and the
averaging is plain tensor code that traces into an exported graph.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from graft.data.base import InputSpec
from graft.data.batch_augment import affine_theta, warp

#: The views' ranges: largest shift (fraction of the side), rotation (degrees), zoom interval.
VIEW_SHIFT, VIEW_ROTATE, VIEW_ZOOM = 0.1, 15.0, (0.9, 1.1)


def view_grids(views: int, height: int, width: int) -> torch.Tensor:
    """``[views, H, W, 2]`` sampling grids of the fixed views (seeded, so always the same)."""
    gen = torch.Generator().manual_seed(0)
    draw = torch.rand(views, 4, generator=gen) * 2 - 1
    angle = draw[:, 0] * VIEW_ROTATE * math.pi / 180
    zoom = VIEW_ZOOM[0] + (VIEW_ZOOM[1] - VIEW_ZOOM[0]) * (draw[:, 1] + 1) / 2
    theta = affine_theta(angle, zoom, draw[:, 2] * VIEW_SHIFT * 2, draw[:, 3] * VIEW_SHIFT * 2)
    return F.affine_grid(theta, [views, 1, height, width], align_corners=False)


class ViewAverage(nn.Module):
    """``model`` with its softmax averaged over the input and ``views`` fixed views.

    The forward returns log-probabilities: their softmax is the average, their argmax the
    averaged prediction. Uncovered pixels take each image's minimum, as in training views.
    """

    grids: torch.Tensor

    def __init__(self, model: nn.Module, views: int, height: int, width: int) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("grids", view_grids(views, height, width), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = F.softmax(self.model(x).float(), dim=1)
        for grid in self.grids:
            view = warp(x, grid.unsqueeze(0).expand(x.shape[0], -1, -1, -1).to(x.dtype))
            probs = probs + F.softmax(self.model(view).float(), dim=1)
        return torch.log((probs / (len(self.grids) + 1)).clamp_min(1e-12))


def refuse_views_for(kind: str, views: int) -> None:
    """Views are images: ``--tta`` on a text or table model is a mistake."""
    if views and kind != "image":
        from graft.errors import ConfigError

        raise ConfigError(f"--tta views are shifted, rotated, zoomed images; the model takes {kind}. Got --tta "
                          f"{views}. Allowed: 0 for {kind} models. Fix: drop --tta.")


def with_views(model: nn.Module, views: int) -> nn.Module:
    """``model`` itself when ``views`` is 0, else :class:`ViewAverage` at its input size."""
    if not views:
        return model
    spec = cast(InputSpec, model.spec.input)  # type: ignore[union-attr]
    assert spec.size is not None, "an image model declares its input size"
    from graft.engine.evaluate import module_device

    return ViewAverage(model, views, *spec.size).to(module_device(model)).eval()


def checked_views(model: nn.Module, val: Any, views: int) -> tuple[int, dict[str, float]]:
    """``views``, or 0 where they raise the loss on the labeled validation data ``val``; and the
    two validation losses behind the choice (empty without labeled validation data)."""
    from graft.data.base import dataset_size
    from graft.engine.evaluate import predict_logits
    from graft.notes import note

    if not views or val is None or not dataset_size(val):
        return views, {}
    single, y, _ = predict_logits(model, val)
    known = y >= 0
    if not known.any():
        return views, {}
    averaged, _, _ = predict_logits(with_views(model, views), val)
    figures = {"val_loss_single_view": float(F.cross_entropy(single[known], y[known])),
               "val_loss_views": float(F.cross_entropy(averaged[known], y[known]))}
    if figures["val_loss_views"] > figures["val_loss_single_view"]:
        note(f"--tta {views}: the views raised the validation loss ({figures['val_loss_single_view']:.3f} → "
             f"{figures['val_loss_views']:.3f}), so the run scores and predicts single images (tta_used 0). "
             "Fix: pass --no-tta-check to keep the views anyway.")
        return 0, figures
    return views, figures
