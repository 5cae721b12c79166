"""The paper's tables with our numbers beside them, and a table of your own retrieval
benchmarks (`python -m eao.tables`). TABLES: every table the tool writes."""

from eao.tables.build import Config, build_all, build_table, given_results, result_keys
from eao.tables.paper import TABLES as PAPER_TABLES
from eao.tables.schema import MAIN
from eao.tables.write import write_all
from eao.tables.yours import TABLE as YOUR_BENCHMARKS
from eao.tables.yours import build_yours

TABLES = (*PAPER_TABLES, YOUR_BENCHMARKS)


def variants_read(kind: str, long_videos: bool = False) -> list[str]:
    """The variants whose results of `kind` ("zeroshot", "finetuned", "localization") the
    paper's tables read, main first, then in table order; `long_videos`: those read with a
    Table 6 strategy."""
    found = [
        row.source.variant
        for table in PAPER_TABLES
        for row in table.rows
        if row.source
        and row.source.kind == kind
        and (row.source.strategy != "at_once") == long_videos
    ]
    return sorted(dict.fromkeys(found), key=lambda variant: variant != MAIN)


__all__ = [
    "TABLES",
    "Config",
    "build_all",
    "build_table",
    "build_yours",
    "given_results",
    "result_keys",
    "variants_read",
    "write_all",
]
