"""Bring the officially released EAO evaluation features in as this pipeline's tables
(docs/benchmarks.md, "Check the paper's numbers"; CLI usage: --help).

eao-pickle (the EAO README's data.tar: youcook_val.pkl, msrvtt_jsfusion_test.pkl): a list of
dicts with `id`, `2d`/`2d_full` (T, 2048) ResNet-152 at 1/s, `3d`/`3d_full` (T, 2048) ResNeXt-101
at 1.5/s, `audio` (40, n) log-mel at 100/s, `caption`/`eval_caption`; CLIP (`clip`, (T, 512)) and
S3D (`s3d`, (T, 1024)) pickles are aligned with it item by item. Each item becomes one video of
ONE shard (shard-00000), id = the item's id ('#2', '#3' for repeats), each caption one segment
over the whole item ([0, duration], the longest of its features). Written under --results:
manifest/{dataset}/{videos,captions,failures}.parquet, probe/{dataset}/{shard,failures}-00000
and features/{resnet152,resnext101,logmel,clip,s3d}/{dataset}/{shard,failures}-00000, visual
rows L2-normalised float16 and log-mel (T, 40) float16 as extraction writes them. Items without
2D features are dropped by default when the file uses the `*_full` keys (YouCook2: the reference
drops 11 and counts them as misses): such an item stays in the manifest, its probe row carries
the error, so evaluation leaves it out and complete_size (3350) counts it as a miss. Every table
records source=imported, source_file, source_sha256 (and the shards weights=released).

s3d-npy (HowTo100M's released S3D features): DIR/<id>.npy, <id>.npz or <id>_3d.npz (key
`features`), (seconds, 1024) at 1/s, for the videos of an existing manifest: per manifest shard a
probe table (no file: error and failures row) and an s3d shard (an unusable file: failures row).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections import Counter
from collections.abc import Collection

import numpy as np
import pyarrow.compute as pc
import torch
import torch.nn.functional as F

from eao import __version__
from eao.backbones.weights import sha256_file
from eao.errors import ArgumentParser, BadInput, reading, run
from eao.features.shards import write_shard
from eao.io.parquet import CAPTIONS, FAILURES, MANIFEST, read_table, table_from_rows, write_table
from eao.io.safe_pickle import load_dicts
from eao.timeline import N_MELS, frames_to_seconds, time_to_frame

# backbone -> (pickle key, feature dim, features per second)
VISUAL = {"resnet152": ("2d", 2048, 1.0), "resnext101": ("3d", 2048, 1.5),
          "clip": ("clip", 512, 1.0), "s3d": ("s3d", 1024, 1.0)}  # fmt: skip
PICKLES = {"resnet": ("resnet152", "resnext101", "logmel"), "clip": ("clip",), "s3d": ("s3d",)}
STAGE = "import"
NPY_NAMES = ("{}.npy", "{}.npz", "{}_3d.npz")


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


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows L2-normalised in float32, stored float16 (the visual shards' contract)."""
    return F.normalize(torch.from_numpy(x), dim=-1, eps=1e-12).numpy().astype(np.float16)


def _get(item: dict, key: str, full: bool):
    first, second = (f"{key}_full", key) if full else (key, f"{key}_full")
    value = item.get(first)
    return item.get(second) if value is None else value


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
    d = max([n / VISUAL[b][2] for b, n in lengths.items() if b in VISUAL] + [0.0])
    frames = lengths.get("logmel", 0)
    if frames:
        d = max(d, frames_to_seconds(frames))
        while time_to_frame(d) < frames:  # float rounding of t * 16000
            d = float(np.nextafter(d, math.inf))
    return d


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


def import_pickles(
    dataset: str,
    pickles: dict[str, str],
    split: str,
    results: str,
    drop_missing_2d: bool | None = None,
    only: Collection[str] | None = None,
) -> dict:
    """Write the tables of an imported dataset (module docstring): all of them, or `only`
    "manifest" (manifest, captions, probe and their failures) and/or named backbones' shards
    (one workflow job each; the rows are the same whichever are written). Returns counts."""
    base = pickles["resnet"]
    unknown = sorted(set(only or ()) - {"manifest", *(b for bs in PICKLES.values() for b in bs)})
    if unknown:
        raise BadInput(f"--only {', '.join(unknown)}: expected manifest or a backbone name")

    def wanted(part: str) -> bool:
        return only is None or part in only

    items = load_dicts(base)
    others = {name: load_dicts(p, need_id=False) for name, p in pickles.items() if name != "resnet"}
    for name, other in others.items():
        if len(other) != len(items):
            problem = f"{len(other)} items, but {base} has {len(items)}: the {name} pickle"
            raise BadInput(f"{problem} must be aligned with it item by item", pickles[name])
        for i, (a, b) in enumerate(zip(items, other, strict=True)):
            if b.get("id") is not None and str(b["id"]) != str(a["id"]):
                raise BadInput(f"item {i} has id {b['id']!r}, but {base} has {a['id']!r} there "
                               f"(the {name} pickle is not aligned)", pickles[name])  # fmt: skip
    full = any("2d_full" in it or "3d_full" in it for it in items)
    drop = full if drop_missing_2d is None else drop_missing_2d
    ids = _unique([_as_text(it["id"], base) for it in items])
    source = {b: pickles[name] for name, bbs in PICKLES.items() if name in pickles for b in bbs}
    absent = sorted(set(only or ()) - {"manifest", *source})
    if absent:
        raise BadInput(f"--only {', '.join(absent)}: no pickle given holds these features")
    feats: dict[str, dict[int, np.ndarray]] = {b: {} for b in source}
    # a shard job converts only its backbone; the manifest needs every length (durations)
    convert = [b for b in source if wanted(b) or wanted("manifest")]
    for i, (vid, item) in enumerate(zip(ids, items, strict=True)):
        for backbone in convert:
            name = next(n for n, bbs in PICKLES.items() if backbone in bbs)
            holder = item if name == "resnet" else others[name][i]
            key = "audio" if backbone == "logmel" else VISUAL[backbone][0]
            value = _get(holder, key, full)
            if value is None:
                continue
            what = f"item {i} ({vid}): {key}"
            if backbone == "logmel":
                feats[backbone][i] = _logmel(value, what, source[backbone])
            else:
                feats[backbone][i] = matrix(value, VISUAL[backbone][1], what, source[backbone])
    shard_path = os.path.abspath(base)
    videos, probed, captions, probe_failures, caption_failures = [], [], [], [], []
    for i, (vid, item) in enumerate(zip(ids, items, strict=True)):
        lengths = {b: len(f[i]) for b, f in feats.items() if i in f}
        row = dict(video_id=vid, path=f"{shard_path}#{i}", dataset=dataset, split=split, shard=0,
                   duration_s=duration(lengths), fps=None, width=None, height=None,
                   has_video=any(lengths.get(b) for b in VISUAL),
                   has_audio=bool(lengths.get("logmel")), error=None)  # fmt: skip
        videos.append(row)
        error = None
        if drop and _get(item, "2d", full) is None:
            key = "2d_full" if full else "2d"
            error = f"no {key} features in the released pickle (dropped, as the reference does)"
            probe_failures.append(dict(video_id=vid, path=row["path"], stage=STAGE, error=error))
        probed.append(dict(row, error=error))
        texts = _texts(item, f"item {i} ({vid})", base)
        if not texts:
            caption_failures.append(dict(video_id=vid, path=row["path"], stage="captions",
                                         error="no caption in the released pickle"))  # fmt: skip
        for k, text in enumerate(texts):
            captions.append(dict(video_id=vid, segment=k, start_s=0.0, end_s=row["duration_s"],
                                 text=text))  # fmt: skip
    sums = {p: sha256_file(p) for p in dict.fromkeys(pickles.values())}
    prov = {"source": "imported", "source_format": "eao-pickle", "code_version": __version__}

    def origin(path: str) -> dict:
        return {**prov, "source_file": os.path.basename(path), "source_sha256": sums[path]}

    meta = {"dataset": dataset, "shard_size": len(items), **origin(base)}
    probe_dir = os.path.join(results, "probe", dataset)
    probe_path = os.path.join(probe_dir, "shard-00000.parquet")
    usable = [i for i, r in enumerate(probed) if r["error"] is None]
    rows = [probed[i] for i in usable]
    counts = {"videos": len(videos), "usable": len(rows), "dropped": len(probe_failures),
              "captions": len(captions), "backbones": [b for b in feats if wanted(b)]}  # fmt: skip
    for backbone in counts["backbones"]:
        by_item = feats[backbone]
        kept = {j: by_item[i] for j, i in enumerate(usable) if i in by_item}
        missing = [dict(video_id=probed[i]["video_id"], path=probed[i]["path"],
                        stage=f"{STAGE}_{backbone}", error=f"no {backbone} features in "
                        f"{os.path.basename(source[backbone])}")
                   for i in usable if i not in by_item]  # fmt: skip
        _write_features(results, dataset, 0, backbone, rows, kept, missing,
                        {**origin(source[backbone]), "probed": probe_path})  # fmt: skip
    if not wanted("manifest"):
        return counts
    manifest_dir = os.path.join(results, "manifest", dataset)
    write_table(table_from_rows(videos, MANIFEST), os.path.join(manifest_dir, "videos.parquet"),
                {**meta, "table": "manifest"})  # fmt: skip
    write_table(table_from_rows(captions, CAPTIONS), os.path.join(manifest_dir, "captions.parquet"),
                {**meta, "table": "captions"})  # fmt: skip
    _failures(os.path.join(manifest_dir, "failures.parquet"), caption_failures, meta)
    write_table(table_from_rows(probed, MANIFEST), probe_path,
                {**meta, "shard": 0, "table": "manifest"})  # fmt: skip
    _failures(os.path.join(probe_dir, "failures-00000.parquet"), probe_failures, meta)
    return counts


def _logmel(value, what: str, path: str) -> np.ndarray:
    """(40, n) log-mel (array or tensor) -> (n, 40) float32."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().float().numpy()
    shape = np.shape(value)
    if len(shape) != 2 or shape[0] != N_MELS:
        raise BadInput(f"{what} has shape {tuple(shape)}, expected ({N_MELS}, n)", path)
    return np.asarray(value, dtype=np.float32).T


def _failures(path: str, rows: list[dict], meta: dict) -> None:
    write_table(table_from_rows(rows, FAILURES), path, {**meta, "table": "failures"})


def _write_features(
    results: str,
    dataset: str,
    shard: int,
    backbone: str,
    rows: list[dict],
    features: dict[int, np.ndarray],
    failures: list[dict],
    meta: dict,
) -> None:
    """The backbone's shard (visual rows unit float16, log-mel float16) and failures table."""
    folder = os.path.join(results, "features", backbone, dataset)
    out = os.path.join(folder, f"shard-{shard:05d}.parquet")
    meta = {**meta, "table": f"features/{backbone}", "backbone": backbone}
    if backbone == "logmel":
        meta.update(weights="none", sample_rate="16000", frames_per_second="100",
                    features_per_second="100")  # fmt: skip
        mels = {i: f.astype(np.float16) for i, f in features.items()}
        write_shard(out, rows, mels, 0.01, N_MELS, meta, audio=True)
    else:
        _, dim, rate = VISUAL[backbone]
        meta.update(weights="released", features_per_second=f"{rate:g}")
        unit = {i: unit_rows(f) for i, f in features.items()}
        write_shard(out, rows, unit, 1 / rate, dim, meta)
    _failures(os.path.join(folder, f"failures-{shard:05d}.parquet"), failures, meta)


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
        return matrix(data, VISUAL["s3d"][1], "features", path)


def import_s3d(
    dataset: str, features_dir: str, manifest: str, results: str, shards: list[int] | None = None
) -> dict:
    """Probe and s3d tables for each shard of `manifest` from per-video S3D files."""
    if not os.path.isdir(features_dir):
        raise BadInput("no such folder (--features-dir)", features_dir)
    table = read_table(manifest, kind="manifest", required=["video_id", "path", "shard"])
    found = sorted(set(table.column("shard").to_pylist()))
    for s in shards or ():
        if s not in found:
            raise BadInput(f"shard {s} has no videos", manifest)
    counts = {"videos": 0, "usable": 0, "missing": 0, "failed": 0}
    meta = {"source": "imported", "source_format": "s3d-npy", "code_version": __version__,
            "source_dir": os.path.abspath(features_dir), "manifest": manifest}  # fmt: skip
    for shard in shards or found:
        rows = table.filter(pc.field("shard") == shard).to_pylist()
        probed, missing, failed, feats = [], [], [], {}
        for row in rows:
            path = _feature_file(features_dir, row["video_id"])
            out = dict(row, dataset=row.get("dataset") or dataset, error=None)
            if path is None:
                out["error"] = "no feature file"
                missing.append(dict(video_id=row["video_id"], path=row["path"], stage=STAGE,
                                    error=f"no feature file in {features_dir}"))  # fmt: skip
            else:
                try:
                    feats[len(probed)] = _read_npy(path)
                    out.update(duration_s=float(len(feats[len(probed)])), has_video=True)
                except BadInput as e:
                    failed.append(dict(video_id=row["video_id"], path=row["path"],
                                       stage=f"{STAGE}_s3d", error=str(e)))  # fmt: skip
            probed.append(out)
        usable = [i for i, r in enumerate(probed) if r["error"] is None]
        probe_dir = os.path.join(results, "probe", dataset)
        probe_path = os.path.join(probe_dir, f"shard-{shard:05d}.parquet")
        write_table(table_from_rows(probed, MANIFEST), probe_path,
                    {**meta, "shard": shard, "table": "manifest"})  # fmt: skip
        _failures(os.path.join(probe_dir, f"failures-{shard:05d}.parquet"), missing, meta)
        kept = {j: feats[i] for j, i in enumerate(usable) if i in feats}
        _write_features(results, dataset, shard, "s3d", [probed[i] for i in usable], kept,
                        failed, {**meta, "probed": probe_path})  # fmt: skip
        counts["videos"] += len(rows)
        counts["usable"] += len(kept)
        counts["missing"] += len(missing)
        counts["failed"] += len(failed)
    return counts


def _pickles(values: list[str], ap: argparse.ArgumentParser) -> dict[str, str]:
    out = {}
    for text in values:
        name, sep, path = text.partition("=")
        if not sep or name not in PICKLES or not path:
            ap.error(f"--pickle {text}: expected NAME=PATH with NAME one of {', '.join(PICKLES)}")
        out[name] = path
    if "resnet" not in out:
        ap.error("--pickle resnet=PATH is required (ids, captions, 2D/3D and audio)")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="python -m eao.features.imported", description=__doc__,
                        formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--format", required=True, choices=["eao-pickle", "s3d-npy"])
    ap.add_argument("--results", default="results", help="the results folder to write under")
    ap.add_argument(
        "--pickle",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="eao-pickle: resnet=PATH (required), clip=PATH, s3d=PATH",
    )
    ap.add_argument("--only", action="append", metavar="PART",
                    help="eao-pickle: write only this part: manifest (manifest, captions, probe)"
                         " or a backbone's shard (default: everything)")  # fmt: skip
    ap.add_argument("--split", help="eao-pickle: the split of every item (validation, test)")
    ap.add_argument("--drop-missing-2d", action=argparse.BooleanOptionalAction, default=None,
                    help="eao-pickle: drop items without 2D features (default: when the file "
                         "uses the *_full keys, as YouCook2's)")  # fmt: skip
    ap.add_argument("--features-dir", help="s3d-npy: the folder of <id>.npy / .npz files")
    ap.add_argument("--manifest", help="s3d-npy: the dataset's manifest (videos.parquet)")
    ap.add_argument("--shard", type=int, action="append", help="s3d-npy: only these shards")
    args = ap.parse_args(argv)
    if args.format == "eao-pickle":
        manifest = args.only is None or "manifest" in args.only
        if not args.pickle or (manifest and not args.split):
            ap.error("--format eao-pickle needs --pickle resnet=PATH and --split")
        pickles = _pickles(args.pickle, ap)
        n = import_pickles(args.dataset, pickles, args.split, args.results, args.drop_missing_2d,
                           args.only)  # fmt: skip
        print(f"{args.dataset}: {n['videos']} items imported ({n['usable']} usable, "
              f"{n['dropped']} dropped), {n['captions']} captions; backbones "
              f"{', '.join(n['backbones'])} -> {args.results}")  # fmt: skip
    else:
        if not args.features_dir or not args.manifest:
            ap.error("--format s3d-npy needs --features-dir and --manifest")
        n = import_s3d(args.dataset, args.features_dir, args.manifest, args.results, args.shard)
        print(
            f"{args.dataset}: s3d features of {n['usable']} of {n['videos']} videos; "
            f"{n['missing']} without a file, {n['failed']} unusable -> {args.results}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="python -m eao.features.imported"))
