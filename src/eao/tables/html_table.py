"""A built table as an HTML page for the Snakemake report: the paper's rows and ours in one
<table> (the same cells as the Markdown: a ★ row reads "paper / ours / chance"), the notes
under it. Self-contained (inline style), so the report shows it as it is."""

from __future__ import annotations

from html import escape

from eao.tables.build import BuiltTable
from eao.tables.cells import EXTRA_HEADERS, EXTRA_INTRO, extra_rows, headers, row_cells

STYLE = """
body { font-family: sans-serif; font-size: 13px; margin: 1em; }
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: center; white-space: nowrap; }
th { background: #eee; }
td.method { text-align: left; }
tr.star td { background: #fff8dc; }
tr.section td { text-align: left; font-style: italic; background: #f6f6f6; }
li { margin-bottom: 2px; }
"""


def _row(cells: list[str], tag: str = "td", cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    first, *rest = cells
    first_attr = ' class="method"' if tag == "td" else ""
    inner = f"<{tag}{first_attr}>{escape(first)}</{tag}>" + "".join(
        f"<{tag}>{escape(c)}</{tag}>" for c in rest
    )
    return f"<tr{attr}>{inner}</tr>"


def _dataset_header(built: BuiltTable) -> list[str]:
    """A first header row grouping the metric columns by dataset (tables with several)."""
    t = built.table
    if len(t.datasets) < 2:
        return []
    n = len(t.metrics)
    cells = f'<th colspan="{1 + len(t.fields)}"></th>' + "".join(
        f'<th colspan="{n}">{escape(label)}</th>' for _, label in t.datasets
    )
    return [f"<tr>{cells}<th></th></tr>"]


def to_html(built: BuiltTable) -> str:
    t = built.table
    head = headers(built)
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(t.source)}: {escape(t.title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h2>{escape(t.source)}: {escape(t.title)}</h2>",
        "<p>Cells of ★ rows: paper / ours / chance.</p>",
        f'<table class="paper-table" id="{escape(t.name)}">',
        "<thead>", *_dataset_header(built), _row(head, "th"), "</thead>", "<tbody>",
    ]  # fmt: skip
    for brow in built.rows:
        if brow.row.section:
            lines.append(f'<tr class="section"><td colspan="{len(head)}">'
                         f"{escape(brow.row.section)}</td></tr>")  # fmt: skip
        lines.append(_row(row_cells(brow), cls="star" if brow.row.star else ""))
    lines += ["</tbody>", "</table>"]
    if built.extra:
        lines += [f"<p>{escape(EXTRA_INTRO)}</p>", "<table>", _row(EXTRA_HEADERS, "th")]
        lines += [_row(row) for row in extra_rows(built)] + ["</table>"]
    lines += ["<h3>Notes</h3>", "<ul>"]
    for note in built.notes:
        text = escape(note.text)
        lines.append(f"<li><strong>{text}</strong></li>" if note.loud else f"<li>{text}</li>")
    lines += ["</ul>", "</body></html>"]
    return "\n".join(lines) + "\n"
