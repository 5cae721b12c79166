"""Feature shards: one Parquet file per (backbone, dataset, shard), one row per video.

Columns: video_id, `times_s` list<float32> (centre time of each feature step, seconds),
`features` list<fixed_size_list<float16, D>> (extracted; imported released features keep their
float32 values: list<fixed_size_list<float32, D>>, eao.features.imported_tables); the audio
table adds `has_audio`. Readers (eao.data.corpus) take either. Text tables
are one row per caption segment (see `text_schema`). Written with zstd level 1 and
BYTE_STREAM_SPLIT on the float columns (about 30 % smaller than zstd alone on features), no
dictionary on floats, in manifest order so the bytes are reproducible. Row groups: one video
each in the visual and audio tables, because training reads single videos in random order and
Parquet reads whole row groups (32 per group read 32 videos to use one: bench/loader.py measured
3.7x fewer clips/s); 32 caption segments each in the text tables (a video has many).
File metadata records the backbone, its weights (name + sha256, or random + seed), the rate and
the code version (see `eao.io.parquet.write_table`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from eao.io.parquet import read_table, write_table

VIDEOS_PER_GROUP = 1  # visual and audio tables: one row = one video
SEGMENTS_PER_GROUP = 32  # text tables: one row = one caption segment


def visual_schema(dim: int, dtype: pa.DataType | None = None, audio: bool = False) -> pa.Schema:
    dtype = dtype or pa.float16()
    fields = [
        ("video_id", pa.string()),
        ("times_s", pa.list_(pa.float32())),
        ("features", pa.list_(pa.list_(dtype, dim))),
    ]
    if audio:
        fields.append(("has_audio", pa.bool_()))
    return pa.schema(fields)


def text_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("video_id", pa.string()),
            ("segment", pa.int32()),
            ("start_s", pa.float64()),
            ("end_s", pa.float64()),
            ("tokens", pa.list_(pa.string())),
            ("features", pa.list_(pa.list_(pa.float32(), dim))),
        ]
    )


def features_array(matrices: Sequence[np.ndarray], dim: int, dtype: pa.DataType) -> pa.Array:
    """list<fixed_size_list<dtype, dim>> from per-row (n_i, dim) matrices, without Python loops
    over elements: one flat buffer, a fixed-size view and list offsets."""
    np_dtype = np.float16 if dtype == pa.float16() else np.float32
    flat = [np.ascontiguousarray(m, dtype=np_dtype).reshape(-1, dim) for m in matrices]
    lengths = np.array([len(m) for m in flat], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    values = np.concatenate(flat) if flat else np.zeros((0, dim), np_dtype)
    inner = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=dtype), dim)
    return pa.ListArray.from_arrays(pa.array(offsets), inner)


def write_features(
    path: str, columns: Mapping[str, pa.Array | list], schema: pa.Schema, metadata: Mapping
) -> None:
    """Write one shard atomically with the project's Parquet options (text tables are those
    with a `segment` column)."""
    table = pa.Table.from_pydict(dict(columns), schema=schema)
    float_columns = [
        name
        for name, typ in zip(schema.names, schema.types, strict=True)
        if pa.types.is_list(typ) and not pa.types.is_string(_leaf(typ))
    ]
    strings = [
        n for n, t in zip(schema.names, schema.types, strict=True) if _leaf(t) == pa.string()
    ]
    write_table(
        table,
        path,
        metadata,
        compression="zstd",
        compression_level=1,
        use_dictionary=strings,
        column_encoding={_leaf_path(schema, c): "BYTE_STREAM_SPLIT" for c in float_columns},
        row_group_size=SEGMENTS_PER_GROUP if "segment" in schema.names else VIDEOS_PER_GROUP,
    )


def _leaf(typ: pa.DataType) -> pa.DataType:
    while pa.types.is_list(typ) or pa.types.is_fixed_size_list(typ):
        typ = typ.value_type
    return typ


def _leaf_path(schema: pa.Schema, name: str) -> str:
    """Parquet's dotted path of a nested column's leaf, e.g. features.list.element.list.element."""
    typ, path = schema.field(name).type, name
    while pa.types.is_list(typ) or pa.types.is_fixed_size_list(typ):
        typ, path = typ.value_type, path + ".list.element"
    return path


PROBED_COLUMNS = ("video_id", "path", "has_audio", "error")  # what extraction reads of a row


def usable_rows(probed_path: str) -> list[dict]:
    """The shard's videos that the probe found usable, in manifest order."""
    table = read_table(probed_path, kind="manifest", required=PROBED_COLUMNS)
    return [r for r in table.to_pylist() if r["error"] is None]


def write_shard(
    path: str,
    rows: list[dict],
    features: dict[int, np.ndarray],
    step_s: float,
    dim: int,
    metadata: dict,
    audio: bool = False,
    dtype: pa.DataType | None = None,
) -> None:
    """A visual or audio shard of `rows` (those in `features`: row index -> (T, dim) matrix),
    features stored as `dtype` (default float16, as extraction writes them)."""
    dtype = dtype or pa.float16()
    kept = [i for i in range(len(rows)) if i in features]
    # a visual row covers [i, i+1) steps, so its centre is i + 0.5; a log-mel frame is centred
    # on its hop already (center=True)
    offset = 0.0 if audio else 0.5
    times = [((np.arange(len(features[i])) + offset) * step_s).astype(np.float32) for i in kept]
    columns = {
        "video_id": [rows[i]["video_id"] for i in kept],
        "times_s": pa.array([t.tolist() for t in times], pa.list_(pa.float32())),
        "features": features_array([features[i] for i in kept], dim, dtype),
    }
    if audio:
        columns["has_audio"] = [len(features[i]) > 0 for i in kept]
    write_features(path, columns, visual_schema(dim, dtype, audio), metadata)
