"""The text of a table's cells, shared by every rendering (Markdown, LaTeX, HTML).

A ★ row's number cell reads "paper / ours / chance" (chance of our own evaluation), other rows
show the paper's number only.
"""

from __future__ import annotations

from eao.tables.build import EXTRA_ROW
from eao.tables.schema import BuiltRow, BuiltTable, Cell

EXTRA_HEADERS = ["Task id", "Title", "Recall ours", "Chance", "> chance"]
EXTRA_INTRO = (
    f"{EXTRA_ROW}: CrossTask task ids of our data that are not among the paper's 18 "
    "(e.g. the demo world's tasks), recall pooled per task:"
)


def fmt(value: float | None, metric: str, missing: str = "-") -> str:
    """One decimal, as the paper prints; MedR without a trailing .0 (the paper prints 19, 29.5)."""
    if value is None:
        return missing
    if metric == "MedR":
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.1f}"


def cell_text(cell: Cell, star: bool) -> str:
    """'paper / ours / chance' in a ★ row (chance only beside a number of ours), else 'paper'."""
    paper = fmt(cell.paper, cell.metric)
    if not star:
        return paper
    text = f"{paper} / {fmt(cell.ours, cell.metric, 'n/a')}"
    if cell.ours is not None and cell.chance is not None:
        text += f" / {fmt(cell.chance, cell.metric)}"
    return text


def headers(built: BuiltTable) -> list[str]:
    """The column headers; a metric's names its dataset when the table has several."""
    table = built.table
    metrics = [
        f"{dataset} {metric.label}" if len(table.datasets) > 1 else metric.label
        for _, dataset in table.datasets
        for metric in table.metrics
    ]
    return ["Method", *table.fields, *metrics, "> chance"]


def row_cells(built_row: BuiltRow) -> list[str]:
    """A row's texts under `headers`: its label (★ for ours), fields, cells, '> chance'."""
    star = built_row.row.star
    label = f"★ {built_row.key}" if star else built_row.key
    cells = [cell_text(cell, star) for cell in built_row.cells]
    return [label, *built_row.row.fields, *cells, built_row.chance_summary]


def extra_rows(built: BuiltTable) -> list[list[str]]:
    """Supp Table 3's extra rows (EXTRA_HEADERS): our CrossTask tasks outside the paper's."""
    rows = []
    for cell in built.extra:
        above = "" if cell.above_chance is None else ("yes" if cell.above_chance else "no")
        title = built.task_titles.get(cell.metric, "")
        ours, chance = fmt(cell.ours, "recall", "n/a"), fmt(cell.chance, "recall")
        rows.append([cell.metric, title, ours, chance, above])
    return rows
