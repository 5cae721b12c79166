"""The text of a table's cells, shared by every rendering (Markdown, LaTeX, HTML).

A ★ row's number cell reads "paper / ours / chance" (chance of our own evaluation), other rows
show the paper's number only.
"""

from __future__ import annotations

from eao.tables.build import EXTRA_ROW, BuiltRow, BuiltTable, Cell

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
    paper = fmt(cell.paper, cell.metric)
    if not star:
        return paper
    text = f"{paper} / {fmt(cell.ours, cell.metric, 'n/a')}"
    if cell.ours is not None and cell.chance is not None:
        text += f" / {fmt(cell.chance, cell.metric)}"
    return text


def headers(built: BuiltTable) -> list[str]:
    t = built.table
    metrics = [f"{d} {m.label}" if len(t.datasets) > 1 else m.label
               for _, d in t.datasets for m in t.metrics]  # fmt: skip
    return ["Method", *t.fields, *metrics, "> chance"]


def row_cells(brow: BuiltRow) -> list[str]:
    star = brow.row.star
    label = f"★ {brow.key}" if star else brow.key
    return [label, *brow.row.fields, *(cell_text(c, star) for c in brow.cells), brow.chance_summary]


def extra_rows(built: BuiltTable) -> list[list[str]]:
    """Supp Table 3's extra rows (EXTRA_HEADERS): our CrossTask tasks outside the paper's."""
    rows = []
    for c in built.extra:
        above = "" if c.above_chance is None else ("yes" if c.above_chance else "no")
        title = built.task_titles.get(c.metric, "")
        rows.append([c.metric, title, fmt(c.ours, "recall", "n/a"), fmt(c.chance, "recall"),
                     above])  # fmt: skip
    return rows
