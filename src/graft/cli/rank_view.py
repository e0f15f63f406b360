"""What ``graft rank`` prints: the ranked table, the winner per score, the consensus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table


def print_rank(console: Console, result: Any, out: Path | None) -> None:
    """The ranking as a rich table (each score's winner in bold), then the winners and files."""
    from graft.ranking.report import display_table

    shown = display_table(result, short=True)
    winners = result.winners()
    table = Table(title=f"Ranking on {result.data} ({result.n_train} labeled training examples)")
    for column in shown.columns:
        table.add_column(str(column), justify="left" if column in ("model", "source head") else "right",
                         no_wrap=column == "model")
    for i, row in enumerate(shown.itertuples(index=False)):
        cells = []
        for column, value in zip(shown.columns, row):
            text = str(value)
            if column in winners and winners[column] == result.table["model"].iloc[i]:
                text = f"[bold]{text}[/bold]"
            cells.append(text)
        table.add_row(*cells)
    console.print(table)
    if (shown == "n/a").any().any():
        console.print("n/a: the model has no source head (LEEP and NCE read the labels through one).", highlight=False)
    console.print("Winner per score: " + "; ".join(f"{k} → {v}" for k, v in winners.items()), highlight=False,
                  soft_wrap=True)
    console.print(f"Consensus (mean rank): [bold]{result.best}[/bold]", highlight=False, soft_wrap=True)
    if result.correlations is not None:
        c = result.correlations
        parts = [f"{r.score} τ={_num(r.kendall_tau)} wτ={_num(r.weighted_tau)}" for r in c.itertuples()]
        console.print("Against fine-tuned accuracy: " + "; ".join(parts), highlight=False, soft_wrap=True)
    if out is not None:
        console.print(f"Table: {out / 'rank.csv'}  Report: {out / 'rank.md'}  Chart: {out / 'plots' / 'rank.png'}",
                      highlight=False, soft_wrap=True)


def _num(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:+.2f}"
