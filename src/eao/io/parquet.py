"""The Parquet tables of the pipeline (schemas in one place) and atomic writing.

Every table the workflow writes goes through `write_table`: it writes to a hidden temporary file
in the target folder and renames it into place, so a killed job never leaves a half file at an
output path. Tables are small-metadata Parquet files with zstd compression; `eao.version` and the
table name are recorded in the file's key/value metadata.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from eao import __version__

# One row per video. The probe fills duration_s .. has_audio and error (null = usable).
MANIFEST = pa.schema(
    [
        ("video_id", pa.string()),
        ("path", pa.string()),
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("shard", pa.int32()),
        ("duration_s", pa.float64()),
        ("fps", pa.float64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("has_video", pa.bool_()),
        ("has_audio", pa.bool_()),
        ("error", pa.string()),
    ]
)

# One row per narration segment (HowTo100M ASR captions or benchmark sentences).
CAPTIONS = pa.schema(
    [
        ("video_id", pa.string()),
        ("segment", pa.int32()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("text", pa.string()),
    ]
)

# Every input a stage skipped, with the reason.
FAILURES = pa.schema(
    [
        ("video_id", pa.string()),
        ("path", pa.string()),
        ("stage", pa.string()),
        ("error", pa.string()),
    ]
)


def write_table(
    table: pa.Table, path: str, metadata: Mapping[str, str] | None = None, **options
) -> None:
    """Write `table` to `path` atomically (temporary file in the same folder, then rename)."""
    meta = {b"eao.version": __version__.encode()}
    meta.update({k.encode(): str(v).encode() for k, v in (metadata or {}).items()})
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression=options.pop("compression", "zstd"), **options)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def table_from_rows(rows: Sequence[Mapping], schema: pa.Schema) -> pa.Table:
    """A table of `schema` from dict rows (missing keys become nulls)."""
    return pa.Table.from_pylist([dict(r) for r in rows], schema=schema)


def read_table(path: str, columns: Sequence[str] | None = None, filters=None) -> pa.Table:
    """Memory-mapped read with column projection and optional row filters."""
    return pq.read_table(path, columns=columns, filters=filters, memory_map=True)
