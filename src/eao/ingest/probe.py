"""Probe every video of one shard: duration, fps, size, streams; bad files become failures rows.

A file that cannot be used (missing, empty, not a video, truncated, shorter than the minimum
duration, no video stream) gets `error` set in its manifest row and one row in the shard's
failures table; every other file of the shard is still probed. The job itself fails only on a
problem with its own inputs or outputs.

Entry point: `python -m eao.ingest.probe --help`.
"""

from __future__ import annotations

import argparse
import sys

import pyarrow.compute as pc

from eao.errors import ArgumentParser, BadInput, run
from eao.io.ffmpeg import ProbeError, check_decodes, probe
from eao.io.parquet import FAILURES, MANIFEST, read_table, table_from_rows, write_table
from eao.progress import progress


def probe_row(row: dict, decode_check: bool, min_duration_s: float) -> dict:
    """The manifest row with the probe fields filled in (and `error` set when unusable)."""
    out = dict(row, error=None)
    try:
        result = probe(row["path"])
        out.update(
            duration_s=result.duration_s,
            fps=result.fps,
            width=result.width,
            height=result.height,
            has_video=result.has_video,
            has_audio=result.has_audio,
        )
        if not result.has_video:
            raise ProbeError("no video stream" + (" (audio only)" if result.has_audio else ""))
        if result.duration_s < min_duration_s:
            raise ProbeError(
                f"too short: {result.duration_s:.2f} s < min_duration_s {min_duration_s:g}"
            )
        if decode_check:
            check_decodes(row["path"], result)
    except ProbeError as e:
        out["error"] = str(e)
    return out


def probe_shard(
    manifest_path: str, shard: int, decode_check: bool = True, min_duration_s: float = 1.0
) -> tuple[list[dict], list[dict]]:
    """(probed manifest rows, failures rows) for one shard of a dataset's manifest."""
    table = read_table(
        manifest_path,
        filters=pc.field("shard") == shard,
        kind="manifest",
        required=["video_id", "path", "shard"],
    )
    rows = table.to_pylist()
    if not rows:
        raise BadInput(f"shard {shard} has no videos", manifest_path)
    probed = [probe_row(r, decode_check, min_duration_s) for r in progress(rows, "probe")]
    failures = [
        {"video_id": r["video_id"], "path": r["path"], "stage": "probe", "error": r["error"]}
        for r in probed
        if r["error"]
    ]
    return probed, failures


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(
        prog="eao probe", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--manifest", required=True, help="the dataset's manifest Parquet")
    ap.add_argument("--shard", type=int, required=True)
    ap.add_argument("--no-decode-check", action="store_true", help="trust headers only")
    ap.add_argument("--min-duration-s", type=float, default=1.0)
    ap.add_argument("--out", required=True, help="probed manifest rows of the shard")
    ap.add_argument("--out-failures", required=True)
    args = ap.parse_args(argv)
    probed, failures = probe_shard(
        args.manifest, args.shard, not args.no_decode_check, args.min_duration_s
    )
    meta = {"shard": args.shard, "min_duration_s": args.min_duration_s}
    write_table(table_from_rows(probed, MANIFEST), args.out, {**meta, "table": "manifest"})
    write_table(
        table_from_rows(failures, FAILURES), args.out_failures, {**meta, "table": "failures"}
    )
    print(f"shard {args.shard}: {len(probed) - len(failures)} usable, {len(failures)} failed")
    for f in failures:
        print(f"  failed: {f['video_id']} ({f['path']}): {f['error']}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="eao probe"))
