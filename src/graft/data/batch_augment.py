"""Batch-wise image augmentation on model-ready tensors (any device).

Used inside training steps where a strategy needs its own views of a batch (weak and
strong views for self-training, source randomisation for domain adaptation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_affine_batch(x: torch.Tensor, shift: float, rotate_deg: float,
                        scale: tuple[float, float], aspect: float = 1.0) -> torch.Tensor:
    """Per-example random shift, rotation and zoom of a batch ``[B, C, H, W]``; ``aspect`` stretches
    every image's height by its square root and its width by the inverse (below 1: flatter).

    Uncovered pixels take each image's minimum (the background of normalised digits).
    """
    b = x.shape[0]
    angle = (torch.rand(b, device=x.device) * 2 - 1) * rotate_deg * torch.pi / 180
    zoom = scale[0] + (scale[1] - scale[0]) * torch.rand(b, device=x.device)
    t = (torch.rand(b, 2, device=x.device) * 2 - 1) * shift * 2
    theta = affine_theta(angle, zoom, t[:, 0], t[:, 1], aspect)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return warp(x, grid)


def affine_theta(angle: torch.Tensor, zoom: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor,
                 aspect: float = 1.0) -> torch.Tensor:
    """``[N, 2, 3]`` affine matrices: rotation ``angle`` (radians), zoom (times ``aspect`` ** ±0.5 in height
    and width), shift (grid units, −1…1 spans the side)."""
    zx, zy = zoom / aspect**0.5, zoom * aspect**0.5
    cos, sin = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([cos / zx, -sin / zy, tx], 1), torch.stack([sin / zx, cos / zy, ty], 1)], 1)


def warp(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``x`` resampled on ``grid``; uncovered pixels take each image's minimum."""
    floor = x.amin(dim=(1, 2, 3), keepdim=True)
    return F.grid_sample(x - floor, grid, padding_mode="zeros", align_corners=False) + floor


def cutout_batch(x: torch.Tensor, size: float) -> torch.Tensor:
    """Set one random square per example (side ``size`` × image side) to the image minimum."""
    if size <= 0:
        return x
    b, _, h, w = x.shape
    sh, sw = max(1, int(h * size)), max(1, int(w * size))
    cy = torch.randint(0, h, (b,), device=x.device)
    cx = torch.randint(0, w, (b,), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    box = ((ys - cy.view(b, 1, 1)).abs() <= sh // 2) & ((xs - cx.view(b, 1, 1)).abs() <= sw // 2)
    floor = x.amin(dim=(1, 2, 3), keepdim=True)
    return torch.where(box.unsqueeze(1), floor, x)


def gaussian_blur_batch(x: torch.Tensor, max_sigma: float, p: float = 0.5) -> torch.Tensor:
    """Blur each example with probability ``p`` by a Gaussian of random sigma ≤ ``max_sigma`` pixels."""
    if max_sigma <= 0:
        return x
    b, c, _, _ = x.shape
    radius = max(1, int(round(2 * max_sigma)))
    grid = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    sigma = (torch.rand(b, device=x.device, dtype=x.dtype) * max_sigma).clamp_min(1e-3)
    sigma = torch.where(torch.rand(b, device=x.device) < p, sigma, torch.full_like(sigma, 1e-3))
    k = torch.exp(-(grid.view(1, -1) ** 2) / (2 * sigma.view(-1, 1) ** 2))
    k = k / k.sum(1, keepdim=True)  # [B, K]
    pad = (radius, radius, radius, radius)
    flat = F.pad(x, pad, mode="replicate").reshape(1, b * c, x.shape[2] + 2 * radius, x.shape[3] + 2 * radius)
    kx = k.repeat_interleave(c, 0).view(b * c, 1, 1, -1)
    ky = k.repeat_interleave(c, 0).view(b * c, 1, -1, 1)
    out = F.conv2d(F.conv2d(flat, kx, groups=b * c), ky, groups=b * c)
    return out.view_as(x)


def photometric_batch(x: torch.Tensor, strength: float, invert_p: float = 0.0) -> torch.Tensor:
    """Per-example random contrast, brightness and (RGB) per-channel gain of a batch ``[B, C, H, W]``.

    Changes are made around each image's own mean and scaled by its own spread, so they mean
    the same on any input normalisation. ``strength`` s draws contrast in [1 - s, 1 + s],
    brightness in ±s standard deviations and channel gains in [1 - s/2, 1 + s/2]; with
    probability ``invert_p`` an image is also mirrored about its mean (negative contrast).
    """
    if strength <= 0 and invert_p <= 0:
        return x
    b, c = x.shape[:2]
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    contrast = 1 + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2 - 1) * strength
    if invert_p > 0:
        flip = torch.rand(b, 1, 1, 1, device=x.device) < invert_p
        contrast = torch.where(flip, -contrast, contrast)
    gain = 1 + (torch.rand(b, c, 1, 1, device=x.device, dtype=x.dtype) * 2 - 1) * strength / 2 if c > 1 else 1.0
    bright = (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2 - 1) * strength * std
    return mean + (x - mean) * contrast * gain + bright
