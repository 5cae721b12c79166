"""The paper's tables with our numbers beside them, and a table of your own retrieval
benchmarks (`python -m eao.tables`). TABLES: every table the tool writes."""

from eao.tables.build import Config, build_all, build_table, given_results, result_keys
from eao.tables.paper import TABLES as PAPER_TABLES
from eao.tables.write import write_all
from eao.tables.yours import TABLE as YOUR_BENCHMARKS
from eao.tables.yours import build_yours

TABLES = (*PAPER_TABLES, YOUR_BENCHMARKS)

__all__ = [
    "TABLES",
    "Config",
    "build_all",
    "build_table",
    "build_yours",
    "given_results",
    "result_keys",
    "write_all",
]
