"""How different is the target from the source, as a model sees them?

Features of both domains through the (frozen) backbone, then the proxy A-distance and
MMD between them, and a t-SNE plot. Used by ``graft shift`` and, before and after
training, by every run that has a source.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from graft.data.pipeline import random_subset
from graft.engine.features import extract_features
from graft.models.spec import GraftModel


def domain_features(model: GraftModel, source: Dataset, target: Dataset, *, max_n: int = 2000,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Backbone features of at most ``max_n`` examples of each domain (eval mode)."""
    fs, _ = extract_features(model.backbone, random_subset(source, max_n, seed), cache=False)
    ft, _ = extract_features(model.backbone, random_subset(target, max_n, seed), cache=False)
    return fs.numpy(), ft.numpy()


def measure_shift(model: GraftModel, source: Dataset, target: Dataset, *, plot: Path | None = None,
                  title: str = "", max_n: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Proxy A-distance, linear and RBF MMD between the domains; optionally a t-SNE plot.

    Returns:
        ``{"proxy_a_distance": ..., "mmd_linear": ..., "mmd_rbf": ...}``.
    """
    from graft.report import plot_embedding
    from graft.selection import shift_report

    fs, ft = domain_features(model, source, target, max_n=max_n, seed=seed)
    report = shift_report(fs, ft, seed=seed)
    if plot is not None:
        plot_embedding({"source": fs, "target": ft}, plot, max_points=600, random_state=seed,
                       title=title or "source vs target features (t-SNE)")
    return {k: float(v) for k, v in report.items()}


def shift(model: Any, source: Any, data: Any, *, out: str | Path | None = None, seed: int = 0,
          image_size: int | None = None, pretrained: bool = True, max_n: int = 2000,
          **load_options: Any) -> dict[str, Any]:
    """Measure the shift between ``source`` and ``data`` through ``model``; no training.

    Args:
        model: A model spec or module (its backbone gives the features).
        source: The source data (spec, arrays, DataSource).
        data: The target data.
        out: Folder for ``shift.json`` and ``plots/shift_tsne.png`` (optional).
        seed: Seed of the subsampling and the domain classifier.
        image_size: Input size of image models.
        pretrained: Load pretrained weights.
        max_n: Examples per domain.
        **load_options: ``label_column`` etc. for tables.
    """
    from graft.data import load_source, make_dataset
    from graft.data.schema import InputSchema
    from graft.io import write_json
    from graft.models import DataInfo, ModelOptions, build_model
    from graft.options import build_config
    from graft.run_dir import check_out_folder
    from graft.run_options import RunOptions
    from graft.streams import check_domains

    check_out_folder(out)
    build_config(RunOptions, {"image_size": image_size}, "graft shift")  # declared range, before loading
    # No labels are needed to measure a shift: either domain may come without them.
    src = load_source(source, **load_options, require_labels=False)
    tgt = load_source(data, **load_options, require_labels=False)
    check_domains(src, tgt)
    # No training here, so every row may shape the preprocessing (tables: one standardisation
    # for both domains, so what is measured is the shift, not a difference of units).
    schema = InputSchema.fit([(src, np.arange(len(src))), (tgt, np.arange(len(tgt)))])
    src, tgt = schema.apply(src), schema.apply(tgt)
    info = DataInfo.from_source(tgt)
    if info.num_classes < 1:  # unlabeled data: the head is not used, only the backbone's features
        info.num_classes, info.classes = max(1, len(src.classes)), list(src.classes) or ["unlabeled"]
    net = build_model(model, info, ModelOptions(image_size=image_size, pretrained=pretrained))
    spec = net.spec.input
    ds_s = make_dataset(src, np.arange(len(src)), spec)
    ds_t = make_dataset(tgt, np.arange(len(tgt)), spec)
    plot = Path(out) / "plots" / "shift_tsne.png" if out is not None else None
    result: dict[str, Any] = {"model": model if isinstance(model, str) else type(model).__name__,
                              "source": src.name, "data": tgt.name, "n_source": len(src), "n_target": len(tgt)}
    result.update(measure_shift(net, ds_s, ds_t, plot=plot, max_n=max_n, seed=seed,
                                title=f"{src.name} vs {tgt.name}"))
    if spec.kind == "image":
        result.update(polarity(ds_s, ds_t, channels=spec.channels, seed=seed))
        scale = object_scale(ds_s, ds_t, seed=0)  # the subsets a DA run measures, whatever --seed
        result.update(scale, source_zoom=list(zoom_range(scale["scale_ratio"])),
                      source_aspect=aspect_change(scale["aspect_ratio"], scale["map_aspect_ratio"]))
    if out is not None:
        write_json(Path(out) / "shift.json", result)
    return result


def _gray_batches(data: Dataset, max_n: int, seed: int, batch_size: int = 256) -> Iterator[torch.Tensor]:
    """At most ``max_n`` images of ``data`` as float64 ``[B, H*W]``, channels averaged (luma-like for RGB)."""
    from torch.utils.data import DataLoader

    subset = random_subset(data, max_n, seed)
    loader = DataLoader(subset, batch_size=batch_size, shuffle=False, collate_fn=getattr(subset, "collate", None))
    for x, _ in loader:
        yield x.double().mean(1).flatten(1)


def _standardised(flat: torch.Tensor) -> torch.Tensor:
    """Each row (an image) to mean 0 and standard deviation 1: any normalisation and contrast alike."""
    return (flat - flat.mean(1, keepdim=True)) / flat.std(1, keepdim=True).clamp_min(1e-9)


def _axis_spread(profile: torch.Tensor) -> torch.Tensor:
    """The standard deviation, in image sides, of mass ``profile`` (``[..., side]``, summing to 1) along its
    last axis: the frame spans −0.5…0.5."""
    side = profile.shape[-1]
    grid = torch.arange(side, dtype=profile.dtype) / (side - 1) - 0.5
    centre = (profile * grid).sum(-1, keepdim=True)
    return (profile * (grid - centre) ** 2).sum(-1).sqrt()


def negative_skew_share(data: Dataset, *, max_n: int = 1000, seed: int = 0) -> float:
    """The share of images whose pixel values are negatively skewed: a bright background with a
    darker subject. MNIST-style digits (a bright stroke on a dark background) score 0, their
    inverted copies 1; it does not depend on the input normalisation."""
    negative, total = 0, 0
    for flat in _gray_batches(data, max_n, seed):
        centred = flat - flat.mean(1, keepdim=True)
        skew = (centred**3).mean(1) / centred.pow(2).mean(1).clamp_min(1e-12).pow(1.5)
        negative += int((skew < 0).sum())
        total += len(flat)
    return negative / max(total, 1)


#: Quantile of the per-pixel variance map taken as its floor: what varies everywhere alike (texture,
#: noise, backgrounds) is not the subject. 0.25 measures colour backgrounds at 1.09 of the clean source.
SPREAD_FLOOR = 0.25


def foreground_spread(data: Dataset, *, max_n: int = 1000, seed: int = 0) -> float:
    """How far from its centre the subject of the images varies, in image sides: each image
    standardised (any normalisation, either polarity), the per-pixel variance over the images less
    its :data:`SPREAD_FLOOR` quantile, and that map's radius of gyration. MNIST's padded digits
    measure 0.26, scikit-learn's digits (filling the frame) 0.34."""
    height, width = variance_map_extent(data, max_n=max_n, seed=seed)
    return math.hypot(height, width)


def variance_map_extent(data: Dataset, *, max_n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The height and width of :func:`foreground_spread`'s variance map (its standard deviation
    along each axis; the radius of gyration is their root sum of squares)."""
    sums: torch.Tensor | None = None  # [2, H*W]: per-pixel sum and sum of squares of the standardised images
    n = 0
    for flat in _gray_batches(data, max_n, seed):
        z = _standardised(flat)
        part = torch.stack([z.sum(0), z.pow(2).sum(0)])
        sums = part if sums is None else sums + part
        n += len(flat)
    side = int(round(sums.shape[1] ** 0.5)) if sums is not None else 0
    if sums is None or side * side != sums.shape[1] or n < 2:
        return float("nan"), float("nan")  # no images, or not square: nothing to compare
    total, square = sums
    var = (square / n - (total / n) ** 2).view(side, side)
    var = (var - var.flatten().quantile(SPREAD_FLOOR)).clamp_min(0)
    if float(var.sum()) <= 0:
        return float("nan"), float("nan")
    w = var / var.sum()
    return float(_axis_spread(w.sum(1))), float(_axis_spread(w.sum(0)))


def subject_extent(data: Dataset, *, max_n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The mean height and width of the subject of each image, in image sides: each image
    standardised and signed so that its long tail (the subject, in either polarity) is positive,
    the negative part dropped, and that mass's standard deviation along each axis. Scikit-learn's
    digits (tall: 8×8 drawings that fill the frame's height) measure 0.295 high and 0.144 wide,
    MNIST's 0.202 and 0.141."""
    heights: list[torch.Tensor] = []
    widths: list[torch.Tensor] = []
    for flat in _gray_batches(data, max_n, seed):
        side = int(round(flat.shape[1] ** 0.5))
        if side * side != flat.shape[1]:
            return float("nan"), float("nan")  # not square: nothing to compare
        z = _standardised(flat)
        mass = (z * (z**3).mean(1, keepdim=True).sign()).clamp_min(0)
        mass = (mass / mass.sum(1, keepdim=True).clamp_min(1e-12)).view(-1, side, side)
        heights.append(_axis_spread(mass.sum(2)))
        widths.append(_axis_spread(mass.sum(1)))
    if not heights:
        return float("nan"), float("nan")
    return float(torch.cat(heights).mean()), float(torch.cat(widths).mean())


def object_scale(source: Dataset, target: Dataset, *, seed: int = 0) -> dict[str, Any]:
    """Each domain's :func:`foreground_spread` and their ratio, target over source: above 1 the
    target's subjects are larger in the frame (MNIST → digits 1.28), below 1 smaller (digits → MNIST
    0.78). What ``--source-zoom`` follows when it is not given. And each domain's
    :func:`subject_extent` with the change of the subjects' height over width, target over source
    (digits → MNIST 0.70: MNIST's digits are flatter), what ``--source-aspect`` follows."""
    (msh, msw), (mth, mtw) = variance_map_extent(source, seed=seed), variance_map_extent(target, seed=seed)
    s, t = math.hypot(msh, msw), math.hypot(mth, mtw)
    ratio = t / s if s > 0 and np.isfinite(s) and np.isfinite(t) else float("nan")
    (sh, sw), (th, tw) = subject_extent(source, seed=seed), subject_extent(target, seed=seed)
    return {"source_foreground_spread": s, "target_foreground_spread": t, "scale_ratio": ratio,
            "source_subject_height": sh, "source_subject_width": sw, "target_subject_height": th,
            "target_subject_width": tw, "aspect_ratio": _shape_change(sh, sw, th, tw),
            "map_aspect_ratio": _shape_change(msh, msw, mth, mtw)}


def _shape_change(source_height: float, source_width: float, target_height: float, target_width: float) -> float:
    """The target's height over width against the source's (nan where any is not positive)."""
    if not min(source_height, source_width, target_height, target_width) > 0:  # nan compares False
        return float("nan")
    return (target_height / source_height) / (target_width / source_width)


#: The source zoom where the object scale cannot be measured (B1's range, set before the measurement).
FALLBACK_ZOOM = (0.9, 1.4)


#: Below this object-scale ratio the target's subjects count as clearly smaller than the source's.
SMALLER = 0.9
#: Where they are, the zoom range is centred on the ratio, this factor either side.
SMALLER_SPAN = 1.3


def zoom_range(ratio: float | None) -> tuple[float, float]:
    """The source's zoom range for a measured object-scale ratio ``r`` (target over source, clipped to
    0.5-2): centred on ``r`` (``r`` / 1.3 to 1.3 ``r``) where the target's subjects are clearly smaller
    (``r`` < 0.9); else B1's range (0.9, 1.4), reaching 1.1 ``r`` where ``r`` > 1.4 / 1.1."""
    if ratio is None or not math.isfinite(ratio) or ratio <= 0:
        return FALLBACK_ZOOM
    r = min(max(ratio, 0.5), 2.0)
    if r < SMALLER:
        return round(r / SMALLER_SPAN, 2), round(r * SMALLER_SPAN, 2)
    lo, hi = FALLBACK_ZOOM
    return lo, round(max(hi, 1.1 * r), 2)


#: The variance map's reading of the shape change must pass this factor, either way, for the source to
#: be stretched. It is robust to texture (colour backgrounds 0.98, noise 1.01) but reads only part of a
#: change (digits → MNIST 0.87, MNIST → digits 1.15); the per-image reading, which gives the amount
#: (0.70 and 1.43), is widened by texture (0.79 on colour backgrounds, 0.88 on noise).
SHAPE_GATE = 1.1


def aspect_change(ratio: float | None, map_ratio: float | None) -> float:
    """The source's height-over-width change: the per-image reading ``ratio`` (target over source,
    clipped to 0.5-2) where the variance map's ``map_ratio`` is beyond :data:`SHAPE_GATE` in the same
    direction, else 1 (none)."""
    if ratio is None or map_ratio is None or not (math.isfinite(ratio) and math.isfinite(map_ratio)):
        return 1.0
    if ratio <= 0 or map_ratio <= 0 or 1 / SHAPE_GATE <= map_ratio <= SHAPE_GATE or (ratio - 1) * (map_ratio - 1) <= 0:
        return 1.0
    return round(min(max(ratio, 0.5), 2.0), 2)


#: Difference of the bright-background shares above which the polarity counts as changed (DA suite:
#: 0 against 0 on MNIST <-> digits, 0 against 0.35 on colour backgrounds in luma, 0 against 1 inverted).
POLARITY_GAP = 0.1


def polarity(source: Dataset, target: Dataset, *, channels: int, seed: int = 0) -> dict[str, Any]:
    """Each domain's share of bright-background images, and whether the polarity changed: a gap
    above :data:`POLARITY_GAP` on a one-channel image model (digits, documents, scans come in
    either polarity; colour photographs are not inverted by a change of domain)."""
    s_share = negative_skew_share(source, seed=seed)
    t_share = negative_skew_share(target, seed=seed)
    return {"source_bright_background_share": s_share, "target_bright_background_share": t_share,
            "polarity_differs": channels == 1 and abs(s_share - t_share) > POLARITY_GAP}
