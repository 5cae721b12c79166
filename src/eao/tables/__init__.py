"""The paper's tables with our numbers beside them (`python -m eao.tables`)."""

from eao.tables.build import Config, build_all, build_table, given_results, result_keys
from eao.tables.paper import TABLES
from eao.tables.write import write_all

__all__ = [
    "TABLES",
    "Config",
    "build_all",
    "build_table",
    "given_results",
    "result_keys",
    "write_all",
]
