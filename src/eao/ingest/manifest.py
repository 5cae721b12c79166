"""Adapters from what a user brings to the `manifest` and `captions` tables.

(a) A CSV of videos: a header with `path` and optionally `video_id` and `split`. Paths are
    relative to the dataset's data root (or absolute inside it); a path that leaves the root is
    refused before any work starts. Without a `video_id` column the id is the file name without
    its extension (HowTo100M's and the benchmarks' files are named by their YouTube ids).
(b) Captions (`--captions`, `--captions-format`): HowTo100M's caption.json or a benchmark's
    annotations, read by eao.ingest.captions; an empty split is filled from the annotations.

Shards are consecutive blocks of `shard_size` rows in the CSV's order, so appending videos to a
CSV never changes the earlier shards' videos (snakemake reruns their jobs all the same: the new
manifest is newer than their outputs).

Entry point: `python -m eao.ingest.manifest --help` (`eao manifest`).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys

from eao.errors import ArgumentParser, BadInput, describe, run
from eao.ingest.captions import CAPTION_FORMATS, annotation_splits, fill_splits, read_captions
from eao.ingest.readers import ManifestError
from eao.io.parquet import CAPTIONS, FAILURES, MANIFEST, read_table, table_from_rows, write_table


def shard_count(n_videos: int, shard_size: int) -> int:
    return math.ceil(n_videos / shard_size)


def count_csv_rows(csv_path: str) -> int:
    """Number of data rows of a videos CSV (cheap enough to call when the DAG is built)."""
    with open(csv_path, newline="", encoding="utf-8", errors="replace") as f:
        return max(0, sum(1 for row in csv.reader(f) if any(cell.strip() for cell in row)) - 1)


def resolve_in_root(path: str, root: str) -> str:
    """The normalised path of `path` under `root`; refuses paths that leave the root.

    Relative when both are (to the working directory: the workflow's folder, where its jobs
    run): a job run in a shadow directory (tests/test_shadow.py) then finds a video only when
    it is a declared input, and the results do not depend on where the run's folder is. The
    check is lexical (after normalising '..'), not through symlinks: a data root made of
    symlinks to video storage is a normal setup and must keep working.
    """
    root_n = os.path.normpath(root)
    full = os.path.normpath(os.path.join(root_n, path))
    root_abs = os.path.abspath(root_n)
    if os.path.commonpath([root_abs, os.path.abspath(full)]) != root_abs:
        raise ManifestError(f"path {path!r} is outside the data root {root_abs}")
    return full


def read_video_csv(csv_path: str, root: str, dataset: str, shard_size: int) -> list[dict]:
    """Manifest rows (probe fields empty) from a videos CSV; raises ManifestError on bad rows."""
    if shard_size < 1:
        raise ManifestError(f"shard_size must be >= 1, got {shard_size}")
    try:
        return _read_video_csv(csv_path, root, dataset, shard_size)
    except UnicodeDecodeError as e:
        raise ManifestError(f"{csv_path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except csv.Error as e:  # e.g. a NUL byte, a quote left open at the end of a cut file
        raise ManifestError(f"{csv_path}: not a CSV file ({e})") from None


def _read_video_csv(csv_path: str, root: str, dataset: str, shard_size: int) -> list[dict]:
    # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte order mark.
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "path" not in columns:
            raise ManifestError(f"{csv_path}: no 'path' column in the header (found {columns})")
        reader.fieldnames = columns
        rows = []
        for rec in reader:
            line = reader.line_num  # the physical line, blank lines and quoted newlines included
            extra = rec.pop(None, None) or []  # cells beyond the header's columns
            if any(v.strip() for v in extra):
                raise ManifestError(
                    f"{csv_path}, line {line}: {len(columns) + len(extra)} fields but the header "
                    f"has {len(columns)} (quote a path that contains a comma)"
                )
            if not any((v or "").strip() for v in rec.values()):
                continue
            rows.append(_manifest_row(rec, csv_path, line, root, dataset, len(rows) // shard_size))
    if not rows:
        raise ManifestError(f"{csv_path}: no videos listed")
    _refuse_duplicates(rows, csv_path)
    return rows


def _manifest_row(rec: dict, csv_path: str, line: int, root: str, dataset: str, shard: int):
    raw = (rec.get("path") or "").strip()
    if not raw:
        raise ManifestError(f"{csv_path}, line {line}: empty path")
    try:
        path = resolve_in_root(raw, root)
    except ManifestError as e:
        raise ManifestError(f"{csv_path}, line {line}: {e}") from None
    video_id = (rec.get("video_id") or "").strip() or os.path.splitext(os.path.basename(raw))[0]
    split = (rec.get("split") or "").strip() or None
    return {"video_id": video_id, "path": path, "dataset": dataset, "split": split, "shard": shard}


def _refuse_duplicates(rows: list[dict], csv_path: str) -> None:
    seen: dict[str, str] = {}
    dups = []
    for r in rows:
        if r["video_id"] in seen:
            dups.append(f"{r['video_id']} ({seen[r['video_id']]} and {r['path']})")
        seen.setdefault(r["video_id"], r["path"])
    if dups:
        shown = "; ".join(dups[:5]) + (f"; and {len(dups) - 5} more" if len(dups) > 5 else "")
        raise ManifestError(
            f"{csv_path}: duplicate video ids: {shown}. Give each row a unique 'video_id' column."
        )


def build(
    videos_csv: str,
    root: str,
    dataset: str,
    shard_size: int,
    captions_json: str | None,
    captions_format: str = "howto",
) -> tuple[list[dict], list[dict], list[dict]]:
    """(manifest rows, caption rows, failures rows) for one dataset."""
    rows = read_video_csv(videos_csv, root, dataset, shard_size)
    if not captions_json:
        return rows, [], []
    captions, failures = read_captions(captions_json, rows, captions_format)
    if any(row["split"] is None for row in rows):
        fill_splits(rows, annotation_splits(captions_json, captions_format))
    return rows, captions, failures


def split_videos(manifest: str, split: str | None) -> list[str] | None:
    """Video ids of the split (None: every video of the manifest is used)."""
    if not split:
        return None
    table = read_table(manifest, ["video_id", "split"], kind="manifest").to_pylist()
    ids = [r["video_id"] for r in table if r["split"] == split]
    if not ids:
        splits = sorted({str(r["split"]) for r in table})
        raise BadInput(f"no video in split {split!r} (splits there: {', '.join(splits)})", manifest)
    return ids


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(
        prog="eao manifest", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--videos", required=True, help="CSV with a 'path' column")
    ap.add_argument("--root", required=True, help="data root the paths are relative to")
    ap.add_argument(
        "--captions",
        help="caption file (optional): caption.json, YouCook2 JSON, MSRVTT_data.json, "
        "crosstask_release/tasks_primary.txt, Mining YouTube's weakYouTube_dict.txt or your "
        "own benchmark's clips CSV / JSON lines (generic: eao.ingest.generic)",
    )
    ap.add_argument("--captions-format", default="howto", choices=CAPTION_FORMATS)
    ap.add_argument("--shard-size", type=int, required=True)
    ap.add_argument("--out-manifest", required=True)
    ap.add_argument("--out-captions", required=True)
    ap.add_argument("--out-failures", required=True)
    args = ap.parse_args(argv)
    try:
        rows, captions, failures = build(
            args.videos,
            args.root,
            args.dataset,
            args.shard_size,
            args.captions,
            args.captions_format,
        )
    except (ManifestError, OSError) as e:  # the dataset too: a run builds several manifests
        raise BadInput(f"dataset {args.dataset}: {describe(e)}") from e
    meta = {"dataset": args.dataset, "shard_size": args.shard_size}
    write_table(table_from_rows(rows, MANIFEST), args.out_manifest, {**meta, "table": "manifest"})
    write_table(
        table_from_rows(captions, CAPTIONS), args.out_captions, {**meta, "table": "captions"}
    )
    write_table(
        table_from_rows(failures, FAILURES), args.out_failures, {**meta, "table": "failures"}
    )
    narrated = len({c["video_id"] for c in captions})
    print(
        f"{args.dataset}: {len(rows)} videos in {shard_count(len(rows), args.shard_size)} shards; "
        f"{len(captions)} caption segments for {narrated} videos; {len(failures)} segments dropped"
    )
    for f in failures:
        print(f"  dropped: {f['video_id']}: {f['error']}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="eao manifest"))
