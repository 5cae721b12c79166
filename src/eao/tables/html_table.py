"""A built table as an HTML page for the Snakemake report: the paper's rows and ours in one
<table> (the same cells as the Markdown: a ★ row reads "paper / ours / chance"), the notes
under it. Self-contained (inline style), so the report shows it as it is."""

from __future__ import annotations

from html import escape

from eao.tables.cells import EXTRA_HEADERS, EXTRA_INTRO, extra_rows, headers, row_cells
from eao.tables.schema import BuiltTable

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


def _row(cells: list[str], tag: str = "td", css_class: str = "") -> str:
    """A <tr> of escaped cells; the first one (the method) left-aligned in the body."""
    attr = f' class="{css_class}"' if css_class else ""
    first, *rest = cells
    first_attr = ' class="method"' if tag == "td" else ""
    inner = f"<{tag}{first_attr}>{escape(first)}</{tag}>" + "".join(
        f"<{tag}>{escape(c)}</{tag}>" for c in rest
    )
    return f"<tr{attr}>{inner}</tr>"


def _dataset_header(built: BuiltTable) -> list[str]:
    """A first header row grouping the metric columns by dataset (tables with several)."""
    table = built.table
    if len(table.datasets) < 2:
        return []
    n_metrics = len(table.metrics)
    cells = f'<th colspan="{1 + len(table.fields)}"></th>' + "".join(
        f'<th colspan="{n_metrics}">{escape(label)}</th>' for _, label in table.datasets
    )
    return [f"<tr>{cells}<th></th></tr>"]


def to_html(built: BuiltTable) -> str:
    """The page: title, the table (a section's heading as a row), extra tasks, notes."""
    table = built.table
    title = f"{escape(table.source)}: {escape(table.title)}"
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h2>{title}</h2>",
        "<p>Cells of ★ rows: paper / ours / chance.</p>",
        f'<table class="paper-table" id="{escape(table.name)}">',
        "<thead>",
        *_dataset_header(built),
        _row(headers(built), "th"),
        "</thead>",
    ]
    lines += ["<tbody>", *_body_rows(built), "</tbody>", "</table>"]
    if built.extra:
        lines += [f"<p>{escape(EXTRA_INTRO)}</p>", "<table>", _row(EXTRA_HEADERS, "th")]
        lines += [_row(row) for row in extra_rows(built)] + ["</table>"]
    lines += ["<h3>Notes</h3>", "<ul>"]
    for note in built.notes:
        text = escape(note.text)
        lines.append(f"<li><strong>{text}</strong></li>" if note.warning else f"<li>{text}</li>")
    lines += ["</ul>", "</body></html>"]
    return "\n".join(lines) + "\n"


def _body_rows(built: BuiltTable) -> list[str]:
    """The rows, a ★ row highlighted, a section's heading as a row of its own above its rows."""
    width = len(headers(built))
    lines = []
    for built_row in built.rows:
        if built_row.row.section:
            section = escape(built_row.row.section)
            lines.append(f'<tr class="section"><td colspan="{width}">{section}</td></tr>')
        lines.append(_row(row_cells(built_row), css_class="star" if built_row.row.star else ""))
    return lines
