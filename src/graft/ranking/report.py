"""``rank.csv``, ``rank.md`` and ``plots/rank.png`` of a ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from graft.io import atomic_path, write_text
from graft.ranking.result import RankResult
from graft.report import markdown_table
from graft.selection.transferability import SCORES


def write_rank(result: RankResult, out: Path) -> dict[str, Path]:
    """Write the ranking's files to ``out`` (created); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "rank.csv", "md": out / "rank.md", "plot": out / "plots" / "rank.png"}
    with atomic_path(paths["csv"]) as tmp:
        result.table.to_csv(tmp, index=False)
    if result.correlations is not None:
        paths["verify"] = out / "verify.csv"
        with atomic_path(paths["verify"]) as tmp:
            result.correlations.to_csv(tmp, index=False)
    plot_rank(result, paths["plot"])
    write_text(paths["md"], rank_markdown(result, chart="plots/rank.png"))
    result.out = out
    return paths


def display_table(result: RankResult, *, short: bool = False) -> pd.DataFrame:
    """The table as shown to people: scores rounded, missing ones explained (``n/a`` when ``short``)."""
    shown = pd.DataFrame({"model": result.table["model"]})
    for name in result.scores:
        shown[name] = [result.cell(i, name, short=short) for i in range(len(result.table))]
    shown["consensus rank"] = result.table["consensus_rank"].map(lambda v: f"{v:.2f}")
    for column, fmt in (("test_accuracy", "{:.4f}"), ("finetune_seconds", "{:.0f}")):
        if column in result.table:
            shown[column.replace("_", " ")] = result.table[column].map(
                lambda v, fmt=fmt: "—" if pd.isna(v) else fmt.format(v))
    shown["dim"] = result.table["feature_dim"]
    shown["seconds"] = result.table["seconds"].map(lambda v: f"{v:.1f}")
    shown["source head"] = result.table["source_head"]
    return shown


def rank_markdown(result: RankResult, chart: str | None = None) -> str:
    """``rank.md``: the table, the winner per score, the consensus, and the check when verified."""
    k = f"{result.labels_per_class} labels per class" if result.labels_per_class else "every label"
    lines = [
        f"# Model ranking on {result.data}",
        "",
        f"{len(result.table)} models scored on the labeled training split ({k}: {result.n_train} examples; the "
        "test split is not read). Every score is higher-is-better; the consensus rank is the mean of the per-score "
        f"ranks over {', '.join(result.consensus_scores)}.",
        "",
        markdown_table(display_table(result)),
        "## Winner per score",
        "",
    ]
    winners = result.winners()
    for name in result.scores:
        lines.append(f"- **{name}**: {winners.get(name, 'no model has this score')} — {SCORES.get(name).help}")
    lines += ["", f"**Consensus: {result.best}**", ""]
    if chart:
        lines += [f"![per-score ranks]({chart})", ""]
    if result.correlations is not None:
        c = result.correlations.copy()
        lines += ["## Check: fine-tuned accuracy", "",
                  "The top models fine-tuned with graft's default strategy (same labels, seed and split); each "
                  "score's rank correlation with the measured test accuracy and its top-1 pick:", "",
                  markdown_table(c.rename(columns={"top1_pick": "top-1 pick", "top1_accuracy": "its accuracy",
                                                   "best_accuracy": "best accuracy"})), ""]
    return "\n".join(lines)


def plot_rank(result: RankResult, path: Path) -> Path:
    """A heat map of each model's rank under each score (1 = best), models in consensus order;
    with verification, the measured accuracy beside it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ranks = result.ranks()
    columns = [*result.scores, "consensus"]
    grid = np.column_stack([ranks[s].to_numpy(dtype=float) for s in result.scores]
                           + [result.table["consensus_rank"].to_numpy(dtype=float)])
    verified = "test_accuracy" in result.table and result.table["test_accuracy"].notna().any()
    n_models = len(result.table)
    fig = Figure(figsize=(1.0 + 0.7 * len(columns) + (2.5 if verified else 0) + 2.5, 1.2 + 0.45 * n_models),
                 dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, width_ratios=[len(columns), 3], sharey=True) if verified else [fig.subplots()]
    ax = axes[0]
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis_r", vmin=1, vmax=max(n_models, 2), aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        # viridis_r is light at rank 1 and dark at the last rank
        ax.text(j, i, "n/a" if np.isnan(value) else f"{value:.3g}", ha="center", va="center", fontsize=8,
                color="white" if not np.isnan(value) and value > (n_models + 1) / 2 else "black")
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    ax.set_yticks(range(n_models), list(result.table["model"]))
    ax.set_title(f"rank per score on {result.data} (1 = best)")
    fig.colorbar(image, ax=ax, shrink=0.8, label="rank")
    if verified:
        acc = result.table["test_accuracy"].to_numpy(dtype=float)
        axes[1].barh(range(n_models), np.nan_to_num(acc), color="tab:orange")
        axes[1].set_xlabel("fine-tuned test accuracy")
        axes[1].set_xlim(0, 1)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    fig.clear()
    return path
