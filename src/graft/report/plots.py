"""PNG plots for runs and comparisons.

Figures are built with :class:`matplotlib.figure.Figure` on an Agg canvas, never
through ``pyplot``: importing this module selects no backend and keeps no global
figure registry, so it is safe in servers, workers and notebooks alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from graft.errors import ConfigError, DataError, did_you_mean
from graft.io import atomic_path
from graft.report._format import display_label, is_ratio_metric, ordered_levels, require_columns
from graft.report.metrics import mean_std

DPI = 120
EMBEDDING_METHODS = {"tsne": "t-SNE", "pca": "PCA", "umap": "UMAP"}
_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")

History = Sequence[Mapping[str, Any]] | pd.DataFrame
PathLike = str | os.PathLike[str]


def plot_learning_curves(
    history: History, path: PathLike, *, selected_epoch: int | None = None, title: str | None = None,
    start: str = "starting model",
) -> Path:
    """Plot losses, accuracies and the learning rate per epoch.

    Columns containing ``loss`` go to the first panel, ratio metrics (``*accuracy``,
    ``*f1``) to the second, and ``lr`` to a third, narrow panel when present.
    Missing columns and NaN entries (e.g. validation every other epoch) are skipped.
    An epoch-0 row holds the starting model's validation figures (when it competed
    for selection): validation curves start there, training curves and ``lr`` at
    epoch 1, since nothing was trained at epoch 0.

    Args:
        history: One row per epoch with ``epoch`` and any of ``train_loss``,
            ``val_loss``, ``train_accuracy``, ``val_accuracy``, ``lr``.
        path: Where to write the PNG.
        selected_epoch: Epoch of the restored checkpoint, drawn as a dotted line.
        title: Figure title.
        start: What the epoch-0 row is, for the x axis (a DA run's source-only reference).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        DataError: If the history is empty or has no column to plot.
    """
    return _save(_learning_curves_figure(_history_frame(history), selected_epoch, title, start), path)


def _learning_curves_figure(frame: pd.DataFrame, selected_epoch: int | None, title: str | None,
                            start: str = "starting model") -> Figure:
    """The figure of :func:`plot_learning_curves`, before it is written."""
    losses = _curve_columns(frame, lambda c: "loss" in c)
    ratios = _curve_columns(frame, lambda c: "loss" not in c and is_ratio_metric(c))
    has_lr = "lr" in frame and bool(frame["lr"].notna().any())
    if not (losses or ratios or has_lr):
        raise DataError(
            "history has no column to plot. Expected any of train_loss, val_loss, "
            f"train_accuracy, val_accuracy, lr. Got columns {list(frame.columns)} instead."
        )
    widths = [1.0, 1.0, 0.6] if has_lr else [1.0, 1.0]
    fig = _new_figure(12.0 if has_lr else 10.0, 4.0)
    axes = fig.subplots(1, len(widths), gridspec_kw={"width_ratios": widths})
    _draw_curves(axes[0], frame, losses, "loss", start=start)
    _draw_curves(axes[1], frame, ratios, "accuracy", start=start)
    if ratios and _within_unit_interval(frame[ratios]):
        axes[1].set_ylim(0.0, 1.02)
    if has_lr:
        _draw_curves(axes[2], frame, ["lr"], "learning rate", legend=False, start=start)
        lr = frame["lr"].dropna()
        if (lr > 0).all() and lr.max() / lr.min() > 20:
            axes[2].set_yscale("log")
    if selected_epoch is not None:
        for ax in axes:
            ax.axvline(selected_epoch, color="0.4", linestyle=":", linewidth=1)
        axes[0].plot([], [], color="0.4", linestyle=":", label=f"selected (epoch {selected_epoch})")
        if losses:
            axes[0].legend(frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion(
    confusion: Any,
    classes: Sequence[str],
    path: PathLike,
    normalize: bool = True,
    *,
    title: str | None = None,
) -> Path:
    """Draw an annotated confusion-matrix heatmap (rows: true class, columns: predicted).

    Args:
        confusion: Square matrix of counts.
        classes: Class names in index order; empty means ``0 .. n-1``.
        path: Where to write the PNG.
        normalize: Show each row as fractions of its true class (rows without
            examples stay 0); otherwise show raw counts.
        title: Axes title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        DataError: If the matrix is not square or ``classes`` has the wrong length.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.size == 0:
        raise DataError(f"confusion must be a non-empty square matrix. Got shape {counts.shape} instead.")
    n = counts.shape[0]
    names = [str(c) for c in classes] if len(classes) else [str(i) for i in range(n)]
    if len(names) != n:
        raise DataError(
            f"classes must name every row of the confusion matrix ({n}). Got {len(names)} names instead."
        )
    values = counts
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    vmax = 1.0 if normalize else max(1.0, float(values.max()))
    side = float(np.clip(0.55 * n + 2.0, 4.0, 16.0))
    fig = _new_figure(side + 1.0, side)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax)
    fig.colorbar(image, ax=ax, shrink=0.8)
    rotate = n > 6 or max(map(len, names)) > 6
    ax.set_xticks(range(n), names, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or ("Confusion matrix (row-normalized)" if normalize else "Confusion matrix (counts)"))
    if n <= 25:
        for (i, j), value in np.ndenumerate(values):
            text = f"{value:.2f}" if normalize else f"{int(value)}"
            if normalize and n <= 8:
                text += f"\n({int(counts[i, j])})"
            color = "white" if value > 0.5 * vmax else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8 if n <= 12 else 6)
    return _save(fig, path)


def plot_compare(
    results: pd.DataFrame,
    path: PathLike,
    metric: str = "test_accuracy",
    group: str = "strategy",
    hue: str | None = None,
    *,
    title: str | None = None,
) -> Path:
    """Bar chart of a metric's mean ± std (error bars) per group, grouped by ``hue``.

    Args:
        results: One row per run (e.g. strategy × seed).
        path: Where to write the PNG.
        metric: Column to aggregate.
        group: Column on the x axis; groups keep their order of first appearance.
        hue: Optional column that splits each group into side-by-side bars
            (e.g. ``labels_per_class`` or ``model``); numeric levels are sorted and
            a missing ``labels_per_class`` reads "all".
        title: Axes title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        DataError: If a named column is missing or ``results`` is empty.
    """
    require_columns(results, [metric, group] + ([hue] if hue else []), "results")
    if results.empty:
        raise DataError("results is empty. Run at least one configuration before plotting.")
    frame = pd.DataFrame(
        {
            "group": [display_label(v, group) for v in results[group]],
            "hue": [display_label(v, hue) for v in results[hue]] if hue else "",
            "value": pd.to_numeric(results[metric], errors="coerce"),
        }
    )
    groups = list(dict.fromkeys(frame["group"]))
    levels = ordered_levels(results[hue], hue) if hue else [""]
    stats = {key: mean_std(part["value"]) for key, part in frame.groupby(["group", "hue"], sort=False)}
    ratio = is_ratio_metric(metric) and _within_unit_interval(frame[["value"]])

    n_bars = len(groups) * len(levels)
    fig = _new_figure(float(np.clip(1.5 + 0.55 * n_bars + 0.3 * len(groups), 6.0, 20.0)), 4.5)
    ax = fig.add_subplot()
    width = 0.8 / len(levels)
    fmt = ".3f" if ratio else ".3g"
    rotate = n_bars > 14
    tops = [0.0]
    for k, level in enumerate(levels):
        xs, means, stds = [], [], []
        for x, name in enumerate(groups):
            mean, std = stats.get((name, level), (np.nan, np.nan))
            if not np.isnan(mean):
                xs.append(x - 0.4 + width * (k + 0.5))
                means.append(mean)
                stds.append(std)
        bars = ax.bar(xs, means, width * 0.95, yerr=stds, capsize=3, label=level or None)
        for x_bar, mean, std, bar in zip(xs, means, stds, bars):
            top = mean + (std if np.isfinite(std) else 0.0)
            tops.append(top)
            ax.text(
                x_bar, top, format(mean, fmt), ha="center", va="bottom", fontsize=7,
                rotation=90 if rotate else 0, color=bar.get_facecolor(),
            )
    tilt = max(map(len, groups)) > 12
    ax.set_xticks(range(len(groups)), groups, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    ax.set_xlabel(group)
    ax.set_ylabel(f"{metric} (mean ± std)")
    if ratio:
        ax.set_ylim(0.0, 1.15 if rotate else 1.1)
        ax.set_yticks(np.linspace(0.0, 1.0, 6))
    elif min(tops) >= 0:
        ax.set_ylim(0.0, max(tops) * 1.2 or 1.0)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if hue:
        fig.legend(title=hue, loc="outside right upper", frameon=False)
    counts = frame.groupby(["group", "hue"], sort=False).size()
    runs = f"n={counts.min()}" if counts.nunique() == 1 else f"n={counts.min()}–{counts.max()}"
    ax.set_title(title or f"{metric} by {group} ({runs} per bar)")
    return _save(fig, path)


def plot_embedding(
    features_by_name: Mapping[str, Any],
    path: PathLike,
    method: str = "tsne",
    labels: Mapping[str, Any] | None = None,
    *,
    max_points: int = 2000,
    random_state: int = 0,
    title: str | None = None,
) -> Path:
    """Scatter a 2-D embedding of several feature sets (e.g. source vs target).

    Each set is subsampled (without replacement, in proportion to its size) so that
    at most ``max_points`` points are embedded together, with a fixed seed.

    Args:
        features_by_name: ``{"source": (n, d) array, "target": (m, d) array, ...}``.
        path: Where to write the PNG.
        method: ``"tsne"`` (scikit-learn, PCA to 50 dims first), ``"pca"`` or
            ``"umap"`` (needs ``umap-learn``).
        labels: Optional class labels per set, keyed like ``features_by_name``; when
            given, colour shows the class and the marker shows the set. Sets
            without labels are drawn in grey.
        max_points: Cap on the number of points embedded.
        random_state: Seed of the subsampling and of the embedding.
        title: Axes title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigError: For an unknown ``method`` or a missing optional package.
        DataError: For empty, mismatched or non-finite features.
    """
    if method not in EMBEDDING_METHODS:
        raise ConfigError(
            f"method must be one of {', '.join(EMBEDDING_METHODS)}. Got '{method}' instead."
            + did_you_mean(method, list(EMBEDDING_METHODS))
        )
    labels = labels or {}
    rng = np.random.default_rng(random_state)
    arrays = {name: np.asarray(x, dtype=np.float64) for name, x in features_by_name.items()}
    arrays = {name: x.reshape(len(x), -1) for name, x in arrays.items()}
    total = sum(len(x) for x in arrays.values())
    widths = {x.shape[1] for x in arrays.values()}
    if not arrays or len(widths) != 1:
        raise DataError(
            "features_by_name must hold arrays with the same feature width. "
            f"Got widths {sorted(widths)} instead."
        )
    picks: dict[str, np.ndarray] = {}
    for name, x in arrays.items():
        if name in labels and len(labels[name]) != len(x):
            raise DataError(f"labels['{name}'] has {len(labels[name])} entries for {len(x)} feature rows.")
        keep = len(x) if total <= max_points else max(1, round(max_points * len(x) / total))
        picks[name] = np.sort(rng.choice(len(x), size=min(keep, len(x)), replace=False))
    stacked = np.concatenate([arrays[n][picks[n]] for n in arrays])
    if len(stacked) < 5 or not np.isfinite(stacked).all():
        raise DataError(
            f"Need at least 5 finite feature rows to embed. Got {len(stacked)} rows (or NaN/inf values)."
        )
    coords = _embed(stacked, method, random_state)

    fig = _new_figure(7.0, 6.0)
    ax = fig.add_subplot()
    picked = {n: np.asarray(labels[n])[picks[n]].tolist() for n in labels if n in arrays}
    classes = sorted({v for values in picked.values() for v in values}, key=str)
    palette = colormaps["tab10" if len(classes) <= 10 else "tab20"]
    class_index = {c: i for i, c in enumerate(classes)}
    start = 0
    for k, name in enumerate(arrays):
        part = coords[start : start + len(picks[name])]
        start += len(part)
        style: dict[str, Any] = {"s": 10, "alpha": 0.6, "marker": _MARKERS[k % len(_MARKERS)]}
        if not classes:
            ax.scatter(part[:, 0], part[:, 1], label=f"{name} ({len(part)})", **style)
        elif name not in labels:
            ax.scatter(part[:, 0], part[:, 1], color="0.6", label=f"{name} (unlabeled)", **style)
        else:
            ids = [class_index[v] % palette.N for v in picked[name]]
            ax.scatter(part[:, 0], part[:, 1], color=palette(ids), **style)
            ax.scatter([], [], color="0.3", marker=style["marker"], label=name)
    if 0 < len(classes) <= 20:
        for c, i in class_index.items():
            ax.scatter([], [], color=palette(i % palette.N), marker="s", label=f"class {c}")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(frameon=False, markerscale=1.5)
    ax.set_title(title or f"{EMBEDDING_METHODS[method]} of features: {', '.join(arrays)}")
    return _save(fig, path)


def _embed(x: np.ndarray, method: str, random_state: int) -> np.ndarray:
    from sklearn.decomposition import PCA  # lazy: only embedding plots need it

    if method == "pca":
        return PCA(n_components=2, random_state=random_state).fit_transform(x)
    if method == "umap":
        try:
            import umap  # type: ignore[import-not-found]
        except ImportError as err:
            raise ConfigError(
                "method='umap' needs the umap-learn package. Install it, or use method='tsne'."
            ) from err
        return np.asarray(umap.UMAP(n_components=2, random_state=random_state).fit_transform(x))
    from sklearn.manifold import TSNE

    if x.shape[1] > 50 and len(x) > 50:
        x = PCA(n_components=50, random_state=random_state).fit_transform(x)
    perplexity = float(min(30.0, max(1.0, (len(x) - 1) / 3)))
    tsne = TSNE(perplexity=perplexity, init="pca", learning_rate="auto", random_state=random_state, max_iter=500)
    return tsne.fit_transform(x)


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: PathLike) -> Path:
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI)
    finally:
        fig.clear()  # no pyplot registry to close; drop the artists now
    return path


def _history_frame(history: History) -> pd.DataFrame:
    frame = history.copy() if isinstance(history, pd.DataFrame) else pd.DataFrame(list(history))
    if frame.empty:
        raise DataError("history is empty. Pass one row per epoch, or skip the learning-curve plot.")
    frame = frame.apply(pd.to_numeric, errors="coerce")
    if "epoch" not in frame or frame["epoch"].isna().all():
        frame["epoch"] = np.arange(1, len(frame) + 1)
    return frame


def _curve_columns(frame: pd.DataFrame, wanted: Any) -> list[str]:
    found = [
        c for c in frame.columns
        if c not in ("epoch", "lr") and wanted(str(c)) and frame[c].notna().any()
    ]
    # train before val, then the rest by name, so colours are stable across runs
    return sorted(found, key=lambda c: (not str(c).startswith("train"), not str(c).startswith("val"), str(c)))


def _draw_curves(ax: Axes, frame: pd.DataFrame, columns: list[str], ylabel: str, legend: bool = True,
                 start: str = "starting model") -> None:
    if not columns:
        ax.text(0.5, 0.5, f"no {ylabel} recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(ylabel)
        return
    for column in columns:
        part = frame[["epoch", column]].dropna()
        if _trained(column):
            part = part[part["epoch"] > 0]  # a stray value at the start would be no training figure
        marker = "o" if len(part) <= 30 else None
        ax.plot(part["epoch"], part[column], marker=marker, markersize=3, label=str(column))
    starts = bool((frame["epoch"] == 0).any())
    ax.set_xlabel(f"epoch (0: {start})" if starts else "epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(frameon=False)


def _trained(column: str) -> bool:
    """Figures of training steps (losses, accuracies, the learning rate): none at epoch 0."""
    return column.startswith("train") or column == "lr"


def _within_unit_interval(values: pd.DataFrame) -> bool:
    finite = values.to_numpy(dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return bool(finite.size) and bool(((finite >= 0) & (finite <= 1)).all())


def plot_weights(weights: np.ndarray, path: PathLike, title: str, final: np.ndarray | None = None) -> Path:
    """A histogram of per-example importance weights (instance weighting), mean marked; with
    ``final``, the weights after training's reweighting overlaid on the starting ones."""
    fig = _new_figure(5.5, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    start = np.asarray(weights, dtype=float)
    both = start if final is None else np.concatenate([start, np.asarray(final, dtype=float)])
    bins = np.linspace(float(both.min()), float(both.max()) + 1e-12, 41).tolist()
    ax.hist(start, bins=bins, color="#4c72b0", alpha=0.6 if final is not None else 1.0,
            label="start" if final is not None else None)
    if final is not None:
        ax.hist(np.asarray(final, dtype=float), bins=bins, color="#dd8452", alpha=0.6, label="end of training")
    ax.axvline(float(np.mean(start)), color="#c44e52", linestyle="--", label="mean")
    ax.set_xlabel("weight of a source example")
    ax.set_ylabel("source examples")
    ax.set_title(title, fontsize=9)
    ax.legend()
    return _save(fig, path)
