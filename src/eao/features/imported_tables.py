"""The tables of an imported dataset (eao.features.imported, .imported_s3d): where they go, the
paths the workflow's rules give (--out TABLE=PATH) or a results folder's layout (--results), and
their writers. The shards keep the released float32 values exactly as the files hold them
(visual rows not normalised: the official evaluation normalises after resampling and pooling,
and so does the model's input, eao.data.tokens; log-mel frames transposed to (T, 40)), where
extraction stores float16.
"""

from __future__ import annotations

import os
from collections.abc import Collection

import numpy as np
import pyarrow as pa
import torch

from eao.backbones.registry import backbone as registered
from eao.backbones.registry import backbones
from eao.errors import BadInput
from eao.features.shards import write_shard
from eao.io.parquet import FAILURES, table_from_rows, write_table
from eao.timeline import SAMPLE_RATE

# The manifest part's tables (--out NAME=PATH), and the first three's names under manifest/.
MANIFEST_TABLES = ("manifest", "captions", "failures", "probed", "probe_failures")
MANIFEST_NAMES = {"manifest": "videos", "captions": "captions", "failures": "failures"}
Outputs = dict[str, str]  # table (MANIFEST_TABLES, BACKBONE, BACKBONE_failures) -> its path
STAGE = "import"  # the failures rows' stage


def _pickles() -> dict[str, tuple[str, ...]]:
    """The released pickles (--pickle NAME=PATH) and the backbones each holds, from the
    backbones' specs (`released`: pickle and key); the ResNet pickle ("resnet") comes first."""
    held: dict[str, list[str]] = {"resnet": []}
    for name, spec in backbones().items():
        if spec.released:
            held.setdefault(spec.released[0], []).append(name)
    return {pickle: tuple(names) for pickle, names in held.items()}


PICKLES = _pickles()
ALL_BACKBONES = [b for names in PICKLES.values() for b in names]


def results_layout(results: str, dataset: str, parts: Collection[str], shard: int = 0) -> Outputs:
    """The tables of `parts` (manifest, probe, backbone names) at their paths under a results
    folder of the workflow's layout (--results: by hand; the workflow names every path)."""
    n, out = f"{shard:05d}", {}
    for part in parts:
        if part in ("manifest", "probe"):
            folder = os.path.join(results, "probe", dataset)
            out["probed"] = os.path.join(folder, f"shard-{n}.parquet")
            out["probe_failures"] = os.path.join(folder, f"failures-{n}.parquet")
        if part == "manifest":
            folder = os.path.join(results, "manifest", dataset)
            out.update({t: os.path.join(folder, f"{f}.parquet") for t, f in MANIFEST_NAMES.items()})
        elif part != "probe":
            folder = os.path.join(results, "features", part, dataset)
            out[part] = os.path.join(folder, f"shard-{n}.parquet")
            out[f"{part}_failures"] = os.path.join(folder, f"failures-{n}.parquet")
    return out


def output_parts(out: Outputs, backbones: Collection[str]) -> set[str]:
    """The parts (manifest, names of `backbones`) whose tables `out` names; BadInput naming a
    table that is none of them, or a part with a table left out."""
    parts = set()
    for table in out:
        part = "manifest" if table in MANIFEST_TABLES else table.removesuffix("_failures")
        if part != "manifest" and part not in backbones:
            expected = f"{', '.join(MANIFEST_TABLES)}, BACKBONE or BACKBONE_failures"
            raise BadInput(f"--out {table}: expected one of {expected}")
        parts.add(part)
    for part in parts:
        need = MANIFEST_TABLES if part == "manifest" else (part, f"{part}_failures")
        if any(table not in out for table in need):
            raise BadInput(f"--out: {part} needs a path for each of {', '.join(need)}")
    return parts


def matrix(value, dim: int, what: str, path: str) -> np.ndarray:
    """A (T, dim) float32 array from a numpy array or tensor; BadInput naming the item else."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().float().numpy()
    try:
        x = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise BadInput(f"{what} is a {type(value).__name__}, not an array", path) from None
    if x.ndim != 2 or x.shape[1] != dim:
        raise BadInput(f"{what} has shape {tuple(x.shape)}, expected (T, {dim})", path)
    return x


def write_failures(path: str, rows: list[dict], meta: dict) -> None:
    write_table(table_from_rows(rows, FAILURES), path, {**meta, "table": "failures"})


def write_features(
    out: str,
    out_failures: str,
    backbone: str,
    rows: list[dict],
    features: dict[int, np.ndarray],
    failures: list[dict],
    meta: dict,
) -> None:
    """The backbone's shard (the released float32 values as they are) and failures table."""
    spec = registered(backbone)
    meta = {**meta, "table": spec.table, "backbone": backbone}
    rate = f"{1 / spec.step_s:g}"
    if spec.kind == "audio":
        meta.update(
            weights="none",
            sample_rate=str(SAMPLE_RATE),
            frames_per_second=rate,
            features_per_second=rate,
        )
    else:
        meta.update(weights="released", features_per_second=rate)
    audio = spec.kind == "audio"
    write_shard(out, rows, features, spec.step_s, spec.dim, meta, audio, pa.float32())
    write_failures(out_failures, failures, meta)


def failure_row(row: dict, stage: str, error: str) -> dict:
    """A failures row of a manifest row's video."""
    return dict(video_id=row["video_id"], path=row["path"], stage=stage, error=error)
