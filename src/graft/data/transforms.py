"""Image tensor transforms: channel adaptation, one-off resizing, train-time augmentation.

Augmentations act on one float image ``[C, H, W]`` in [0, 1], draw from torch's global
RNG (so ``torch.manual_seed`` in the engine makes them reproducible), and are chosen
by name from :data:`AUGMENTATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from graft.errors import DataError
from graft.registry import Registry

Augment = Callable[[torch.Tensor], torch.Tensor]
AUGMENTATIONS: Registry[Augment] = Registry("augmentation")

# ITU-R BT.601 luma, the weights PIL uses for convert("L").
_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def adapt_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Batch ``[N, C, H, W]`` → ``channels``: gray repeated to 3, colour to luma for 1."""
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return images.repeat(1, 3, 1, 1)
    if have == 3 and channels == 1:
        return (images * _LUMA.to(images.dtype)).sum(dim=1, keepdim=True)
    raise DataError(
        f"Cannot turn {have}-channel images into the {channels} channels the model takes. "
        "Allowed: 1 → 3 (repeat) and 3 → 1 (luminance). Fix: pick a model with "
        f"{have} input channels."
    )


def resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear, antialiased resize of a float batch ``[N, C, H, W]``; no-op at equal size."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)


def random_affine(
    image: torch.Tensor, *, shift: float = 0.1, scale: tuple[float, float] = (0.9, 1.1)
) -> torch.Tensor:
    """Shift by up to ``shift`` of the size each way and zoom by a factor in ``scale``.

    Uncovered pixels become 0 (black, before normalisation), like padding then cropping.
    """
    zoom = scale[0] + (scale[1] - scale[0]) * float(torch.rand(()))
    dx, dy = ((torch.rand(2) * 2 - 1) * shift * 2).tolist()  # grid coordinates span 2
    theta = torch.tensor([[1 / zoom, 0.0, dx], [0.0, 1 / zoom, dy]], dtype=image.dtype)
    grid = F.affine_grid(theta[None], [1, *image.shape], align_corners=False)
    moved = F.grid_sample(image[None], grid, padding_mode="zeros", align_corners=False)
    return moved[0]


@AUGMENTATIONS.register("none", "no augmentation")
def no_augment(image: torch.Tensor) -> torch.Tensor:
    return image


@AUGMENTATIONS.register("light", "random shift up to 10% and zoom 0.9-1.1; no flips (digits-safe)")
def light(image: torch.Tensor) -> torch.Tensor:
    return random_affine(image)


@AUGMENTATIONS.register("flip", "light plus random horizontal flip (natural images, not digits)")
def flip(image: torch.Tensor) -> torch.Tensor:
    image = random_affine(image)
    return image.flip(-1) if float(torch.rand(())) < 0.5 else image
