"""The paper's and supplement's tables as data, and where our number for each ★ row comes from.

The numbers are those printed in "Everything at Once – Multi-modal Fusion Transformer for Video
Retrieval" (Shvetsova et al., CVPR 2022) and its supplementary material, typed from the text of
both; R@K and recall in percent, None = not reported ("-" in the paper). The text carries no
page numbers, so a table's `source` names the table only. The "Trainable BB (t, v, a)" tick
columns of Tables 1 and 2 are left out: their alignment is lost in the text version, and EAO
trains only its audio CNN.

What a table is lives in eao.tables.schema, the paper's Tables 1–3 in eao.tables.paper_main,
its ablations (Tables 4–6) in eao.tables.paper_ablations, the supplement's in
eao.tables.paper_supplement; this module gathers them (TABLES) and checks them.
"""

from __future__ import annotations

from eao.tables.paper_ablations import TABLE4, TABLE5, TABLE6
from eao.tables.paper_main import TABLE1, TABLE2, TABLE3
from eao.tables.paper_supplement import (
    AVERAGE,
    CROSSTASK_TASKS,
    SUPP1,
    SUPP2,
    SUPP3,
    SUPP4,
    SUPP5,
    SUPP6,
)
from eao.tables.schema import Metric, Numbers, Row, Source, Table, check

PAPER_TABLES = (TABLE1, TABLE2, TABLE3, TABLE4, TABLE5, TABLE6)
SUPPLEMENT_TABLES = (SUPP1, SUPP2, SUPP3, SUPP4, SUPP5, SUPP6)
TABLES: tuple[Table, ...] = (*PAPER_TABLES, *SUPPLEMENT_TABLES)

for _table in TABLES:
    check(_table)

__all__ = [
    "AVERAGE",
    "CROSSTASK_TASKS",
    "TABLES",
    "Metric",
    "Numbers",
    "Row",
    "Source",
    "Table",
    "check",
]
