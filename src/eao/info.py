"""`eao info SHARD.parquet`: what a Parquet table of the workflow holds, from its footer.

Schema, rows, row groups and size, the provenance the writer recorded (backbone, weights and
their sha256 or seed, rate, code version), and per kind of table a short summary: videos and
feature rows of a feature shard, segments of a text shard, failures per stage."""

from __future__ import annotations

import collections
import os
import sys

import pyarrow.compute as pc
import pyarrow.parquet as pq

from eao.errors import EXIT_BAD_INPUT, ArgumentParser, BadInput, reading, run
from eao.io.parquet import check_table


def describe(path: str) -> list[str]:
    """The report's lines; BadInput naming the file when it is not a Parquet file."""
    meta = check_table(path)
    schema = meta.schema.to_arrow_schema()
    lines = [
        f"{path}: {meta.num_rows:,} rows in {meta.num_row_groups} row group(s), "
        f"{os.path.getsize(path) / 1e6:.2f} MB",
        "schema:",
        *(f"  {field.name}: {field.type}" for field in schema),
    ]
    kv = {
        k.decode(): v.decode(errors="replace")
        for k, v in (schema.metadata or {}).items()
        if not k.startswith(b"ARROW")
    }
    if kv:
        lines.append("metadata:")
        lines += [f"  {k}: {v if len(v) < 200 else v[:200] + '...'}" for k, v in sorted(kv.items())]
    lines += summary(path, schema.names)
    return lines


def summary(path: str, names: list[str]) -> list[str]:
    if {"video_id", "stage", "error"} <= set(names):  # a failures table
        stages = collections.Counter(pq.read_table(path, columns=["stage"])["stage"].to_pylist())
        counts = ", ".join(f"{stage} {n}" for stage, n in stages.items()) or "none"
        return [f"failures per stage: {counts}"]
    if {"video_id", "segment", "features"} <= set(names):  # a text shard
        ids = pq.read_table(path, columns=["video_id"])["video_id"]
        return [f"text: {len(ids):,} segments of {len(pc.unique(ids)):,} videos"]
    if {"video_id", "times_s"} <= set(names):  # a visual or audio shard
        table = pq.read_table(path, columns=["video_id", "times_s"])
        steps = pc.list_value_length(table["times_s"]).to_numpy(zero_copy_only=False)
        if not len(steps):
            return ["features: no videos"]
        return [
            f"features: {len(table):,} videos, {int(steps.sum()):,} feature rows "
            f"({int(steps.min())}-{int(steps.max())} per video)"
        ]
    return []


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="eao info", description=__doc__.split("\n")[0])
    ap.add_argument("tables", nargs="+", help="Parquet files (shards, manifests, failures tables)")
    args = ap.parse_args(argv)
    code = 0
    for path in args.tables:  # a bad file is one line, and the other files are still shown
        try:
            with reading(path):
                print("\n".join(describe(path)))
        except BadInput as e:
            print(f"eao info: error: {e}", file=sys.stderr)
            code = EXIT_BAD_INPUT
    return code


if __name__ == "__main__":
    sys.exit(run(main, prog="eao info"))
