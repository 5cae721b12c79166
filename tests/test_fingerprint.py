"""The golden tests' fingerprint (tests/fingerprint.py): blind to what varies between identical
runs, not to a change of values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from fingerprint import differs, fingerprint


def shard(path: Path, features: np.ndarray, ids: list[str], meta: dict[str, str]) -> Path:
    column = pa.array(list(features.astype(np.float16)), type=pa.list_(pa.float16()))
    table = pa.table({"video_id": ids, "features": column}).replace_schema_metadata(meta)
    pq.write_table(table, path)
    return path


def test_metadata_and_the_run_folder_do_not_count_but_values_and_their_order_do(tmp_path):
    x = np.random.default_rng(0).standard_normal((6, 32)).astype(np.float32)
    ids = [f"v{i}" for i in range(6)]
    base = fingerprint(shard(tmp_path / "a.parquet", x, ids, {"writer": "1"}), tmp_path)
    for name, values, names, meta in [
        ("meta", x, ids, {"writer": "2", "when": "now"}),
        ("last-bit", x * (1 + 1e-7), ids, {"writer": "1"}),
    ]:
        assert not differs(
            base, fingerprint(shard(tmp_path / f"{name}.parquet", values, names, meta), tmp_path)
        )
    for name, values, names in [
        ("scaled", x * 1.01, ids),
        ("rows-swapped", x[[1, 0, 2, 3, 4, 5]], ids),
        ("renamed", x, [*ids[:5], "other"]),
        ("fewer", x[:5], ids[:5]),
    ]:
        changed = fingerprint(
            shard(tmp_path / f"{name}.parquet", values, names, {"writer": "1"}), tmp_path
        )
        assert differs(base, changed), name


def test_paths_under_the_run_folder_are_the_same_in_another_folder(tmp_path):
    for run in ("one", "two"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "m.json").write_text(
            f'{{"path": "{tmp_path / run}/x.mp4", "clips_per_s": 3}}'
        )
    one, two = (fingerprint(tmp_path / r / "m.json", tmp_path / r) for r in ("one", "two"))
    assert not differs(one, two)
