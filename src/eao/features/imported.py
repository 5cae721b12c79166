"""Bring the officially released EAO evaluation features in as this pipeline's tables
(docs/benchmarks.md, "Check the paper's numbers"; CLI usage: --help).

eao-pickle (the EAO README's data.tar: youcook_val.pkl, msrvtt_jsfusion_test.pkl): a list of
dicts with `id`, `2d`/`2d_full` (T, 2048) ResNet-152 at 1/s, `3d`/`3d_full` (T, 2048) ResNeXt-101
at 1.5/s, `audio` (40, n) log-mel at 100/s, `caption`/`eval_caption`; CLIP (`clip`, (T, 512)) and
S3D (`s3d`, (T, 1024)) pickles are aligned with it item by item. Each item becomes one video of
ONE shard (shard-00000), id = the item's id ('#2', '#3' for repeats), each caption one segment
over the whole item ([0, duration], the longest of its features). Written to the paths
--out names (the workflow's rules: the manifest's five tables, manifest, captions, failures,
probed, probe_failures; or a backbone's shard and its failures), or by hand under --results:
manifest/{dataset}/{videos,captions,failures}.parquet, probe/{dataset}/{shard,failures}-00000
and features/{resnet152,resnext101,logmel,clip,s3d}/{dataset}/{shard,failures}-00000, the
pickles' float32 values unchanged (visual rows as they are, log-mel as (T, 40)): the official
loaders normalise later, as the model's input does. The keys are the official loaders', without
fallback: a file with `*_full` keys (YouCook2) is read through `2d_full`/`3d_full` only, one
without them (MSR-VTT) through `2d`/`3d` only. Items without 2D features are dropped by default
when the file uses the `*_full` keys: exactly the items without `2d_full`, whatever else they
hold (the reference keeps the others and counts the 11 it drops as misses). Such an item stays
in the manifest, its probe row carries the error, so evaluation leaves it out and complete_size
(3350) counts it as a miss; its features are never read (an unusable one does not stop the
import). Every table records source=imported, source_file, source_sha256 (and the shards
weights=released).

s3d-npy (HowTo100M's released S3D features, eao.features.imported_s3d): DIR/<id>.npy, <id>.npz
or <id>_3d.npz (key `features`), (seconds, 1024) at 1/s, for the videos of an existing manifest:
per manifest shard a probe table (no file: error and failures row) and an s3d shard (an unusable
file: failures row), under --results.
"""

from __future__ import annotations

import math
import os
import sys
from collections import Counter

import numpy as np
import torch

from eao import __version__
from eao.backbones.registry import backbone as registered
from eao.backbones.weights import sha256_file
from eao.errors import BadInput, reading, run
from eao.features.imported_cli import import_outputs, parser, pickle_args
from eao.features.imported_s3d import import_s3d
from eao.features.imported_tables import (
    ALL_BACKBONES,
    MANIFEST_TABLES,
    PICKLES,
    STAGE,
    Outputs,
    failure_row,
    matrix,
    output_parts,
    write_failures,
    write_features,
)
from eao.io.parquet import CAPTIONS, MANIFEST, table_from_rows, write_table
from eao.io.safe_pickle import load_dicts
from eao.timeline import N_MELS, frames_to_seconds, time_to_frame

FULL_KEYS = ("2d", "3d")  # the keys a `*_full` file holds as `2d_full`, `3d_full`


def _key(key: str, full: bool) -> str:
    """The key the official loader reads: `2d_full`/`3d_full` in a `*_full` file (YouCook2's
    key_2d, key_3d), the key itself otherwise (MSR-VTT's; audio, clip, s3d everywhere)."""
    return f"{key}_full" if full and key in FULL_KEYS else key


def _texts(item: dict, what: str, path: str) -> list[str]:
    """The item's captions: `eval_caption` first (the test query), then `caption` (a str or a
    list of str), exact duplicates skipped; the text unchanged (byte for byte)."""
    found = []
    for key in ("eval_caption", "caption"):
        value = item.get(key)
        for text in value if isinstance(value, list | tuple) else [value]:
            text = _as_text(text, path) if isinstance(text, bytes) else text
            if text is None:
                continue
            if not isinstance(text, str):
                raise BadInput(f"{what}: {key} is a {type(text).__name__}, not text", path)
            if text not in found:
                found.append(str(text))
    return found


def duration(lengths: dict[str, int]) -> float:
    """Seconds that cover every row of the item's features: the exact window [0, duration]
    reads all of them (eao.data.tokens.row_range and audio_window)."""
    d = max([n / (1 / registered(b).step_s) for b, n in lengths.items() if _visual(b)] + [0.0])
    frames = max([n for b, n in lengths.items() if not _visual(b)] + [0])
    if frames:
        d = max(d, frames_to_seconds(frames))
        while time_to_frame(d) < frames:  # float rounding of t * 16000
            d = float(np.nextafter(d, math.inf))
    return d


def _visual(name: str) -> bool:
    """Whether the backbone's rows are video (2D or 3D), not audio frames."""
    return registered(name).kind != "audio"


def _as_text(value, path: str) -> str:
    """A str as it is, bytes (a Python 2 pickle's) decoded as UTF-8, anything else str()."""
    if isinstance(value, bytes):
        with reading(path):
            return value.decode("utf-8")
    return str(value)


def _unique(ids: list[str]) -> list[str]:
    """The ids, a repeated one made unique with '#2', '#3', ... (one video per item)."""
    seen: Counter[str] = Counter()
    out = []
    for vid in ids:
        seen[vid] += 1
        out.append(vid if seen[vid] == 1 else f"{vid}#{seen[vid]}")
    return out


def _load(pickles: dict[str, str]) -> tuple[list[dict], dict[str, list[dict]]]:
    """The ResNet pickle's items and the other pickles' (by name); BadInput naming a pickle
    that is not aligned with the ResNet one item by item."""
    base = pickles["resnet"]
    items = load_dicts(base)
    others = {name: load_dicts(p, need_id=False) for name, p in pickles.items() if name != "resnet"}
    for name, other in others.items():
        if len(other) != len(items):
            problem = f"{len(other)} items, but {base} has {len(items)}: the {name} pickle"
            raise BadInput(f"{problem} must be aligned with it item by item", pickles[name])
        for i, (a, b) in enumerate(zip(items, other, strict=True)):
            if b.get("id") is not None and str(b["id"]) != str(a["id"]):
                problem = f"item {i} has id {b['id']!r}, but {base} has {a['id']!r} there"
                raise BadInput(f"{problem} (the {name} pickle is not aligned)", pickles[name])
    return items, others


def _convert(
    items: list[dict],
    others: dict,
    ids: list[str],
    source: dict[str, str],
    backbones: list[str],
    full: bool,
    dropped: set[int],
) -> dict[str, dict[int, np.ndarray]]:
    """backbone -> item index -> its (T, D) features (log-mel (n, 40)), for `backbones`, of
    source: backbone -> the pickle holding it. An unusable array is an error, but for a
    `dropped` item (the official loader never reads it: it is left out)."""
    feats: dict[str, dict[int, np.ndarray]] = {b: {} for b in source}
    for i, (vid, item) in enumerate(zip(ids, items, strict=True)):
        for backbone in backbones:
            name, key = registered(backbone).released
            holder = item if name == "resnet" else others[name][i]
            key = _key(key, full)
            if holder.get(key) is None:
                continue
            what = f"item {i} ({vid}): {key}"
            try:
                feats[backbone][i] = _array(backbone, holder[key], what, source[backbone])
            except BadInput:
                if i not in dropped:  # a dropped item's features only give its duration
                    raise
    return feats


def _array(backbone: str, value, what: str, path: str) -> np.ndarray:
    """A backbone's (T, D) rows of an item (log-mel (n, 40)), float32."""
    if _visual(backbone):
        return matrix(value, registered(backbone).dim, what, path)
    return _logmel(value, what, path)


def _video_row(vid: str, path: str, dataset: str, split: str, lengths: dict[str, int]) -> dict:
    """An item's manifest row: its duration covers the longest of its features."""
    return dict(
        video_id=vid,
        path=path,
        dataset=dataset,
        split=split,
        shard=0,
        duration_s=duration(lengths),
        fps=None,
        width=None,
        height=None,
        has_video=any(n for b, n in lengths.items() if _visual(b)),
        has_audio=any(n for b, n in lengths.items() if not _visual(b)),
        error=None,
    )


def _rows(
    dataset: str,
    split: str,
    base: str,
    ids: list[str],
    items: list[dict],
    feats: dict,
    full: bool,
    dropped: set[int],
) -> dict[str, list[dict]]:
    """The rows of the manifest (videos), its probed shard, captions and their failures."""
    shard_path = os.path.normpath(base)  # as given: an id, not read again
    out: dict[str, list[dict]] = {k: [] for k in MANIFEST_TABLES}
    for i, (vid, item) in enumerate(zip(ids, items, strict=True)):
        lengths = {b: len(f[i]) for b, f in feats.items() if i in f}
        row = _video_row(vid, f"{shard_path}#{i}", dataset, split, lengths)
        out["manifest"].append(row)
        error = None
        if i in dropped:
            key = _key("2d", full)
            error = f"no {key} features in the released pickle (dropped, as the reference does)"
            out["probe_failures"].append(failure_row(row, STAGE, error))
        out["probed"].append(dict(row, error=error))
        texts = _texts(item, f"item {i} ({vid})", base)
        if not texts:
            no_caption = "no caption in the released pickle"
            out["failures"].append(failure_row(row, "captions", no_caption))
        for k, text in enumerate(texts):
            caption = dict(start_s=0.0, end_s=row["duration_s"], text=text)
            out["captions"].append(dict(video_id=vid, segment=k, **caption))
    return out


def import_pickles(
    dataset: str,
    pickles: dict[str, str],
    split: str,
    out: Outputs,
    drop_missing_2d: bool | None = None,
    probed_path: str | None = None,
) -> dict:
    """Write the tables of an imported dataset (module docstring) that `out` names (table ->
    path, output_parts): the manifest's five and/or backbones' shards with their failures (one
    workflow job each; the rows are the same whichever are written). `probed_path`: the probe
    table the shards' rows match, recorded in their metadata (default: the one written here).
    Returns counts."""
    base, only = pickles["resnet"], output_parts(out, ALL_BACKBONES)
    items, others = _load(pickles)
    full = any("2d_full" in it or "3d_full" in it for it in items)
    drop = full if drop_missing_2d is None else drop_missing_2d
    dropped = {i for i, it in enumerate(items) if drop and it.get(_key("2d", full)) is None}
    ids = _unique([_as_text(it["id"], base) for it in items])
    source = {b: pickles[name] for name, bbs in PICKLES.items() if name in pickles for b in bbs}
    absent = sorted(only - {"manifest", *source})
    if absent:
        raise BadInput(f"--only {', '.join(absent)}: no pickle given holds these features")
    # a shard job converts only its backbone; the manifest needs every length (durations)
    convert = [b for b in source if b in only or "manifest" in only]
    feats = _convert(items, others, ids, source, convert, full, dropped)
    rows = _rows(dataset, split, base, ids, items, feats, full, dropped)
    sums = {p: sha256_file(p) for p in dict.fromkeys(pickles.values())}
    prov = {"source": "imported", "source_format": "eao-pickle", "code_version": __version__}

    def origin(path: str) -> dict:
        return {**prov, "source_file": os.path.basename(path), "source_sha256": sums[path]}

    backbones = [b for b in feats if b in only]
    probe_path = out.get("probed", probed_path)
    for backbone in backbones:
        meta = origin(source[backbone]) | ({"probed": probe_path} if probe_path else {})
        _write_shard(out, backbone, rows["probed"], feats[backbone], source[backbone], meta)
    if "manifest" in only:
        _write_manifest(out, rows, {"dataset": dataset, "shard_size": len(items), **origin(base)})
    usable = [r for r in rows["probed"] if r["error"] is None]
    counts = {"videos": len(items), "usable": len(usable), "dropped": len(rows["probe_failures"])}
    return {**counts, "captions": len(rows["captions"]), "backbones": backbones}


def _write_shard(
    out: Outputs,
    backbone: str,
    probed: list[dict],
    by_item: dict[int, np.ndarray],
    source: str,
    meta: dict,
) -> None:
    """A backbone's shard of the usable items and its failures (a usable item without these
    features) to the paths `out` names."""
    usable = [i for i, r in enumerate(probed) if r["error"] is None]
    kept = {j: by_item[i] for j, i in enumerate(usable) if i in by_item}
    error = f"no {backbone} features in {os.path.basename(source)}"
    missing = [
        failure_row(probed[i], f"{STAGE}_{backbone}", error) for i in usable if i not in by_item
    ]
    rows = [probed[i] for i in usable]
    write_features(out[backbone], out[f"{backbone}_failures"], backbone, rows, kept, missing, meta)


def _write_manifest(out: Outputs, rows: dict[str, list[dict]], meta: dict) -> None:
    """The manifest's five tables (MANIFEST_TABLES) of `rows` to the paths `out` names."""
    for table, schema in (("manifest", MANIFEST), ("captions", CAPTIONS)):
        write_table(table_from_rows(rows[table], schema), out[table], {**meta, "table": table})
    write_failures(out["failures"], rows["failures"], meta)
    probe_meta = {**meta, "shard": 0, "table": "manifest"}
    write_table(table_from_rows(rows["probed"], MANIFEST), out["probed"], probe_meta)
    write_failures(out["probe_failures"], rows["probe_failures"], meta)


def _logmel(value, what: str, path: str) -> np.ndarray:
    """(40, n) log-mel (array or tensor) -> (n, 40) float32."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().float().numpy()
    shape = np.shape(value)
    if len(shape) != 2 or shape[0] != N_MELS:
        raise BadInput(f"{what} has shape {tuple(shape)}, expected ({N_MELS}, n)", path)
    return np.asarray(value, dtype=np.float32).T


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    args = ap.parse_args(argv)
    if args.format == "eao-pickle":
        if not args.pickle:
            ap.error("--format eao-pickle needs --pickle resnet=PATH and --split")
        pickles = pickle_args(args.pickle, ap)
        out = import_outputs(args, pickles, ap)
        if "manifest" in out and not args.split:
            ap.error("--format eao-pickle needs --pickle resnet=PATH and --split")
        n = import_pickles(
            args.dataset, pickles, args.split, out, args.drop_missing_2d, args.probed
        )
        print(
            f"{args.dataset}: {n['videos']} items imported ({n['usable']} usable, "
            f"{n['dropped']} dropped), {n['captions']} captions; backbones "
            f"{', '.join(n['backbones'])} -> {args.results or ', '.join(out.values())}"
        )
    else:
        if not args.features_dir or not args.manifest or not args.results:
            ap.error("--format s3d-npy needs --features-dir, --manifest and --results")
        n = import_s3d(args.dataset, args.features_dir, args.manifest, args.results, args.shard)
        print(
            f"{args.dataset}: s3d features of {n['usable']} of {n['videos']} videos; "
            f"{n['missing']} without a file, {n['failed']} unusable -> {args.results}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="python -m eao.features.imported"))
