"""The Parquet tables of the pipeline (schemas in one place) and atomic writing.

Every table the workflow writes goes through `write_table`: it writes to a hidden temporary file
in the target folder and renames it into place, so a killed job never leaves a half file at an
output path. Tables are small-metadata Parquet files with zstd compression; `eao.version` and the
table name are recorded in the file's key/value metadata. Readers go through `read_table` /
`check_table`, which check that key, so a wrong file is named with what it is instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from eao import __version__
from eao.errors import BadInput, first_sentence, need_file, reading
from eao.io.atomic import atomic_path

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
    table: pa.Table, path: str, metadata: Mapping[str, str] | None = None, **options: Any
) -> None:
    """Write `table` to `path` atomically (temporary file in the same folder, then rename)."""
    meta = {b"eao.version": __version__.encode()}
    meta.update({k.encode(): str(v).encode() for k, v in (metadata or {}).items()})
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    compression = options.pop("compression", "zstd")
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression=compression, **options)


def table_from_rows(rows: Sequence[Mapping], schema: pa.Schema) -> pa.Table:
    """A table of `schema` from dict rows (missing keys become nulls)."""
    return pa.Table.from_pylist([dict(r) for r in rows], schema=schema)


def read_table(
    path: str | os.PathLike,
    columns: Sequence[str] | None = None,
    filters: Any = None,  # pyarrow's: a DNF list of tuples or an Expression
    kind: str | Sequence[str] | None = None,
    required: Sequence[str] = (),
) -> pa.Table:
    """Memory-mapped read with column projection and optional row filters, of a table checked
    by `check_table` (BadInput naming the file when it is not one of `kind`)."""
    check_table(path, kind, [*required, *(columns or ())])
    with reading(path):
        return pq.read_table(path, columns=columns, filters=filters, memory_map=True)


def check_table(
    path: str | os.PathLike,
    kind: str | Sequence[str] | None = None,
    columns: Sequence[str] = (),
    what: str | None = None,
) -> pq.FileMetaData:
    """The footer of `path` if it is a Parquet table of `kind` holding `columns`; BadInput
    naming the file otherwise ("x.parquet: not a features table (table=manifest)"). A kind
    ending in '/' is a family ('features/': any backbone). The `table` key the writers record
    decides; a file without one (written by hand or by other code) is judged by its columns.
    `what` names the kind in the message (default: the kinds)."""
    kinds = (kind,) if isinstance(kind, str) else tuple(kind or ())
    want = what or " or ".join(k.rstrip("/") for k in kinds) or "Parquet"
    need_file(path, "Parquet file")  # pyarrow reads a folder as a (possibly empty) dataset
    with reading(path):
        try:
            meta = pq.read_metadata(path)
        except pa.ArrowInvalid as e:  # not Parquet (text, JSON, a checkpoint) or cut short
            raise BadInput(
                f"not a Parquet file, or a truncated one ({first_sentence(e)})", path
            ) from e
        names = meta.schema.to_arrow_schema().names
    found = (meta.metadata or {}).get(b"table", b"").decode(errors="replace")
    if kinds and found and not any(_is_kind(found, k) for k in kinds):
        raise BadInput(f"not a {want} table (table={found})", path)
    missing = [c for c in dict.fromkeys(columns) if c not in names]
    if missing:
        table = f"table={found}; " if found else ""
        raise BadInput(f"not a {want} table ({table}no column {', '.join(missing)})", path)
    return meta


def _is_kind(found: str, kind: str) -> bool:
    return found.startswith(kind) if kind.endswith("/") else found == kind
