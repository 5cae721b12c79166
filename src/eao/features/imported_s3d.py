"""s3d-npy: HowTo100M's released per-video S3D features as this pipeline's tables, for the videos
of an existing manifest (`eao import-features --format s3d-npy`, eao.features.imported).

DIR/<id>.npy, <id>.npz or <id>_3d.npz (key `features`), (seconds, 1024) at 1/s: per manifest
shard a probe table (no file: error and failures row) and an s3d shard (an unusable file:
failures row), under --results's layout (probe/<dataset>/, features/s3d/<dataset>/).
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow.compute as pc

from eao import __version__
from eao.backbones.registry import backbone
from eao.errors import BadInput, reading
from eao.features.imported_tables import (
    STAGE,
    failure_row,
    matrix,
    results_layout,
    write_failures,
    write_features,
)
from eao.io.parquet import MANIFEST, read_table, table_from_rows, write_table

BACKBONE = "s3d"  # the backbone whose released features this format holds
NPY_NAMES = ("{}.npy", "{}.npz", "{}_3d.npz")


def _feature_file(folder: str, vid: str) -> str | None:
    for pattern in NPY_NAMES:
        path = os.path.join(folder, pattern.format(vid))
        if os.path.isfile(path):
            return path
    return None


def _read_npy(path: str) -> np.ndarray:
    with reading(path):
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                data = data["features"]
        return matrix(data, backbone(BACKBONE).dim, "features", path)


def _probe_shard(rows: list[dict], features_dir: str, dataset: str) -> tuple:
    """(probed rows, missing-file failures, unusable-file failures, probed row -> features)
    of one manifest shard's rows."""
    probed, missing, failed, feats = [], [], [], {}
    for row in rows:
        path = _feature_file(features_dir, row["video_id"])
        out = dict(row, dataset=row.get("dataset") or dataset, error=None)
        if path is None:
            out["error"] = "no feature file"
            missing.append(failure_row(row, STAGE, f"no feature file in {features_dir}"))
        else:
            try:
                feats[len(probed)] = _read_npy(path)
                out.update(duration_s=float(len(feats[len(probed)])), has_video=True)
            except BadInput as e:
                failed.append(failure_row(row, f"{STAGE}_s3d", str(e)))
        probed.append(out)
    return probed, missing, failed, feats


def import_s3d(
    dataset: str, features_dir: str, manifest: str, results: str, shards: list[int] | None = None
) -> dict:
    """Probe and s3d tables for each shard of `manifest` from per-video S3D files, under
    `results`' layout."""
    if not os.path.isdir(features_dir):
        raise BadInput("no such folder (--features-dir)", features_dir)
    table = read_table(manifest, kind="manifest", required=["video_id", "path", "shard"])
    found = sorted(set(table.column("shard").to_pylist()))
    for s in shards or ():
        if s not in found:
            raise BadInput(f"shard {s} has no videos", manifest)
    counts = {"videos": 0, "usable": 0, "missing": 0, "failed": 0}
    source = {"source": "imported", "source_format": "s3d-npy", "code_version": __version__}
    meta = {**source, "source_dir": os.path.abspath(features_dir), "manifest": manifest}
    for shard in shards or found:
        rows = table.filter(pc.field("shard") == shard).to_pylist()
        probed, missing, failed, feats = _probe_shard(rows, features_dir, dataset)
        usable = [i for i, r in enumerate(probed) if r["error"] is None]
        out = results_layout(results, dataset, ["probe", "s3d"], shard)
        probe_meta = {**meta, "shard": shard, "table": "manifest"}
        write_table(table_from_rows(probed, MANIFEST), out["probed"], probe_meta)
        write_failures(out["probe_failures"], missing, meta)
        kept = {j: feats[i] for j, i in enumerate(usable) if i in feats}
        usable_rows = [probed[i] for i in usable]
        s3d_meta = {**meta, "probed": out["probed"]}
        write_features(out["s3d"], out["s3d_failures"], "s3d", usable_rows, kept, failed, s3d_meta)
        counts["videos"] += len(rows)
        counts["usable"] += len(kept)
        counts["missing"] += len(missing)
        counts["failed"] += len(failed)
    return counts
