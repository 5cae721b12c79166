"""Adapters from what a user brings to the `manifest` and `captions` tables.

(a) A CSV of videos: a header with `path` and optionally `video_id` and `split`. Paths are
    relative to the dataset's data root (or absolute inside it); a path that leaves the root is
    refused before any work starts. Without a `video_id` column the id is the file name without
    its extension (HowTo100M's and the benchmarks' files are named by their YouTube ids).
(b) HowTo100M ASR captions, `caption.json`: {video_id: {"start": [...], "end": [...],
    "text": [...]}}. A bad segment (end < start, times that are not numbers, text that is not
    valid UTF-8) is dropped and becomes a failures row; a video without captions is a video
    without narration, which the corpus has by design.

Shards are consecutive blocks of `shard_size` rows in the CSV's order, so appending videos to a
CSV never changes the earlier shards.

Entry point: `python -m eao.data.manifest --help`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections.abc import Iterable

from eao.io.parquet import CAPTIONS, FAILURES, MANIFEST, table_from_rows, write_table


class ManifestError(ValueError):
    """Bad input that stops the run before any work: the message names the file and the row."""


def shard_count(n_videos: int, shard_size: int) -> int:
    return math.ceil(n_videos / shard_size)


def count_csv_rows(csv_path: str) -> int:
    """Number of data rows of a videos CSV (cheap enough to call when the DAG is built)."""
    with open(csv_path, newline="", encoding="utf-8", errors="replace") as f:
        return max(0, sum(1 for row in csv.reader(f) if any(cell.strip() for cell in row)) - 1)


def resolve_in_root(path: str, root: str) -> str:
    """The absolute, normalised path of `path` under `root`; refuses paths that leave the root.

    The check is lexical (after normalising '..'), not through symlinks: a data root made of
    symlinks to video storage is a normal setup and must keep working.
    """
    root_abs = os.path.normpath(os.path.abspath(root))
    full = os.path.normpath(os.path.join(root_abs, path))
    if os.path.commonpath([root_abs, full]) != root_abs:
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


CAPTION_FORMATS = ("howto", "youcook2", "msrvtt")


def _load_json(json_path: str):
    with open(json_path, "rb") as f:
        # surrogateescape keeps undecodable bytes as lone surrogates, so one bad caption is
        # found and dropped instead of the whole file failing to load.
        text = f.read().decode("utf-8", errors="surrogateescape")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ManifestError(f"{json_path}: not a JSON file: {e}") from None


def youcook2_as_howto(data: dict, json_path: str) -> dict:
    """youcookii_annotations_trainval.json -> {video: {start, end, text}} (one per annotation)."""
    try:
        database = data["database"]
        return {
            vid: {
                "start": [a["segment"][0] for a in e["annotations"]],
                "end": [a["segment"][1] for a in e["annotations"]],
                "text": [a["sentence"] for a in e["annotations"]],
            }
            for vid, e in database.items()
        }
    except (KeyError, TypeError, IndexError) as e:
        raise ManifestError(
            f"{json_path}: not a YouCook2 annotation file ({e!r} missing)"
        ) from None


def msrvtt_as_howto(data: dict, json_path: str) -> dict:
    """MSRVTT_data.json -> {video: {start, end, text}}: every caption spans the whole clip."""
    try:
        length = {
            v["video_id"]: float(v["end time"]) - float(v["start time"]) for v in data["videos"]
        }
        out: dict = {}
        for s in sorted(data["sentences"], key=lambda s: s["sen_id"]):
            entry = out.setdefault(s["video_id"], {"start": [], "end": [], "text": []})
            entry["start"].append(0.0)
            entry["end"].append(length.get(s["video_id"], 0.0))
            entry["text"].append(s["caption"])
        return out
    except (KeyError, TypeError, ValueError) as e:
        raise ManifestError(f"{json_path}: not an MSR-VTT data file ({e!r} missing)") from None


def read_captions(
    json_path: str, rows: list[dict], fmt: str = "howto"
) -> tuple[list[dict], list[dict]]:
    """Caption rows for the manifest's videos, and failures rows for the segments dropped.

    `fmt`: howto (caption.json), youcook2 (annotations JSON: one segment per annotated step
    with its sentence) or msrvtt (MSRVTT_data.json: every caption of a clip)."""
    data = _load_json(json_path)
    if fmt == "youcook2":
        data = youcook2_as_howto(data, json_path)
    elif fmt == "msrvtt":
        data = msrvtt_as_howto(data, json_path)
    elif fmt != "howto":
        raise ManifestError(f"unknown captions format {fmt!r} (one of {CAPTION_FORMATS})")
    if not isinstance(data, dict):
        raise ManifestError(f"{json_path}: expected an object keyed by video id")
    captions, failures = [], []
    for row in rows:
        entry = data.get(row["video_id"])
        if entry is None:
            continue  # a video without narration
        for seg in _segments(entry, row, json_path, failures):
            captions.append(seg)
    return captions, failures


def _segments(entry, row: dict, json_path: str, failures: list[dict]) -> Iterable[dict]:
    vid = row["video_id"]

    def fail(reason: str) -> None:
        failures.append(
            {"video_id": vid, "path": row["path"], "stage": "captions", "error": reason}
        )

    if not isinstance(entry, dict) or not all(
        isinstance(entry.get(k), list) for k in ("start", "end", "text")
    ):
        fail(f"{json_path}: entry is not {{start, end, text}} lists")
        return
    starts, ends, texts = entry["start"], entry["end"], entry["text"]
    if not (len(starts) == len(ends) == len(texts)):
        fail(f"start/end/text lists differ in length ({len(starts)}/{len(ends)}/{len(texts)})")
        return
    for i, (start, end, txt) in enumerate(zip(starts, ends, texts, strict=True)):
        try:
            start, end = float(start), float(end)
        except (TypeError, ValueError):
            fail(f"segment {i}: start/end are not numbers ({start!r}, {end!r})")
            continue
        if not (math.isfinite(start) and math.isfinite(end)) or end < start or start < 0:
            fail(f"segment {i}: bad times start={start} end={end}")
            continue
        txt = "" if txt is None else str(txt)
        # Undecodable bytes (surrogateescape) and lone surrogates from "\ud800"-style escapes.
        if any("\ud800" <= ch <= "\udfff" for ch in txt):
            fail(f"segment {i}: text is not valid UTF-8")
            continue
        yield {"video_id": vid, "segment": i, "start_s": start, "end_s": end, "text": txt.strip()}


def read_howto_captions(json_path: str, rows: list[dict]) -> tuple[list[dict], list[dict]]:
    return read_captions(json_path, rows, "howto")


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
    captions, failures = (
        read_captions(captions_json, rows, captions_format) if captions_json else ([], [])
    )
    return rows, captions, failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--videos", required=True, help="CSV with a 'path' column")
    ap.add_argument("--root", required=True, help="data root the paths are relative to")
    ap.add_argument("--captions", help="caption file (optional)")
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
    except (ManifestError, OSError) as e:
        print(f"error: dataset {args.dataset}: {e}", file=sys.stderr)
        return 1
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
    sys.exit(main())
