"""Gather the failures tables of one dataset (every stage, every shard) into one table.

Entry point: `python -m eao.ingest.failures --out OUT.parquet IN.parquet ...`; also writes a TSV
beside the Parquet file for reading with less.
"""

from __future__ import annotations

import csv
import sys

import pyarrow as pa

from eao.errors import ArgumentParser, reading, run
from eao.io.atomic import atomic_open
from eao.io.parquet import FAILURES, read_table, write_table


def gather(paths: list[str]) -> pa.Table:
    """Every failures table of `paths` in one (BadInput naming a file that is not one)."""
    tables = [_failures(p) for p in sorted(paths)]
    return pa.concat_tables(tables) if tables else FAILURES.empty_table()


def _failures(path: str) -> pa.Table:
    table = read_table(path, columns=FAILURES.names, kind="failures")
    with reading(path):  # a column of another type
        return table.cast(FAILURES)


def write_tsv(table: pa.Table, path: str) -> None:
    with atomic_open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(FAILURES.names)
        for row in table.to_pylist():
            writer.writerow([row[c] for c in FAILURES.names])


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="eao failures", description=__doc__)
    ap.add_argument("--out", required=True, help="gathered failures Parquet")
    ap.add_argument("--out-tsv", required=True)
    ap.add_argument("inputs", nargs="*")
    args = ap.parse_args(argv)
    table = gather(args.inputs)
    write_table(table, args.out, {"table": "failures"})
    write_tsv(table, args.out_tsv)
    stages = {}
    for stage in table.column("stage").to_pylist():
        stages[stage] = stages.get(stage, 0) + 1
    print(f"{table.num_rows} failures: {stages or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="eao failures"))
