"""Readers shared by the ingestion adapters: text, CSV and JSON files as datasets' authors
distribute them, each error a `ManifestError` naming the file and the line.

Tolerated on purpose, because real downloads have them: a UTF-8 byte order mark, CRLF line ends,
blank lines at the end. Pure Python: cheap enough to call when the workflow's DAG is built.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from eao.errors import BadInput

Interval = tuple[float, float]


class ManifestError(BadInput):
    """Bad input that stops the run before any work: the message names the file and the row."""


def read_text(path: str, keep_bad_bytes: bool = False) -> str:
    """The file's text (UTF-8, byte order mark dropped); ManifestError if unreadable.
    `keep_bad_bytes`: undecodable bytes become lone surrogates (surrogateescape) instead of an
    error, for readers that find and drop the bad entries themselves."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ManifestError(f"{path}: cannot read the file ({e.strerror or e})") from None
    try:
        return raw.decode("utf-8-sig", errors="surrogateescape" if keep_bad_bytes else "strict")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ManifestError(
            f"{path}, line {line}: not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None


def lines(path: str) -> list[str]:
    """Physical lines (numbered from 1 as an editor shows them); CRLF and CR ends accepted."""
    text = read_text(path).replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def blocks(lines: Sequence[str]) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines separated by blank lines: (line number of the first, lines)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                blocks.append((number, current))
            current.append(line.strip())
        else:
            current = []
    return blocks


def csv_rows(path: str) -> list[tuple[int, list[str]]]:
    """Non-blank CSV rows with their line numbers, cells stripped."""
    reader = csv.reader(io.StringIO(read_text(path)))
    rows = []
    try:
        for row in reader:
            cells = [c.strip() for c in row]
            if any(cells):
                rows.append((reader.line_num, cells))
    except csv.Error as e:
        raise ManifestError(f"{path}, line {reader.line_num}: not a CSV file ({e})") from None
    return rows


def number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ManifestError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ManifestError(f"{where}: {what} {text!r} is not a finite number")
    return value


def times(start: str, end: str, where: str) -> Interval:
    s, e = number(start, "start", where), number(end, "end", where)
    if s < 0 or e < s:
        raise ManifestError(f"{where}: bad times start={s} end={e} (need 0 <= start <= end)")
    return s, e


def header_rows(
    path: str, required: Sequence[str], optional: Sequence[str] = ()
) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV with a header, as {column: cell} for the named columns (any order)."""
    rows = csv_rows(path)
    if not rows:
        raise ManifestError(f"{path}: empty file (expected a header with {', '.join(required)})")
    _, header = rows[0]
    missing = [c for c in required if c not in header]
    if missing:
        raise ManifestError(f"{path}: no column {', '.join(missing)} in the header {header}")
    wanted = {c: header.index(c) for c in [*required, *optional] if c in header}
    out = []
    for line, cells in rows[1:]:
        if len(cells) < len(header):
            raise ManifestError(
                f"{path}, line {line}: {len(cells)} fields but the header has {len(header)}"
            )
        out.append((line, {c: cells[i] for c, i in wanted.items()}))
    return out


def load_json(path: str, keep_bad_bytes: bool = False) -> Any:
    """The parsed JSON file. `keep_bad_bytes` (read_text): one bad caption of HowTo100M's
    caption.json is then found and dropped later instead of the whole file failing to load."""
    text = read_text(path, keep_bad_bytes)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ManifestError(
            f"{path}, line {e.lineno}, column {e.colno}: not a JSON file ({e.msg})"
        ) from None


def beside(path: str, name: str) -> str:
    """The path of file `name` in the folder of `path` (a release's files sit together)."""
    return os.path.join(os.path.dirname(os.path.abspath(path)), name)
