"""The generic captions layout (`captions_format: generic`): a retrieval benchmark of your own
as one file of captioned clips, one row per clip (docs/benchmarks.md, "Your own retrieval
benchmark").

CSV (any file name that does not end in .jsonl or .ndjson): a header naming the columns
`video_id, start_s, end_s, caption` and optionally `split`, in any order (other columns are
ignored), then one row per captioned clip; quote a caption that holds a comma:

    video_id,start_s,end_s,caption,split
    pasta_01,0.0,4.5,"boil the water, then add salt",test

JSON lines (.jsonl or .ndjson): one object per line with the same keys (times as JSON numbers,
`split` optional or null):

    {"video_id": "pasta_01", "start_s": 0.0, "end_s": 4.5, "caption": "boil the water"}

Every row is checked and a bad one stops the run with the file and the line (ManifestError): an
empty video_id or caption, a time that is not a number, a clip with end_s <= start_s or a
negative start, a row with more or fewer fields than the header, the same clip and caption twice,
one video given two splits. Ground truth is never guessed. A video's clips become its caption
segments in file order (segment 0, 1, ...); rows of videos outside the videos CSV are left out
(none matching at all is an error: the ids are wrong), a video without rows has no caption.
A row's `split` (empty: none) is its video's split unless the videos CSV gives one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

from eao.ingest.readers import ManifestError, csv_rows, lines, number

REQUIRED = ("video_id", "start_s", "end_s", "caption")
OPTIONAL = ("split",)
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")

Clip = dict  # video_id, start_s, end_s, caption, split (or None), line


def read_generic(path: str) -> list[Clip]:
    """Every clip of a generic captions file, in file order; ManifestError names the file and
    the line of the first bad row (module docstring)."""
    json_lines = path.lower().endswith(JSON_LINES_SUFFIXES)
    records = _json_records(path) if json_lines else _csv_records(path)
    clips = [_clip(path, line, rec) for line, rec in records]
    if not clips:
        raise ManifestError(f"{path}: no captioned clip (one row per clip after the header)")
    _refuse_duplicates(path, clips)
    _video_splits(path, clips)
    return clips


def generic_captions(path: str, rows: list[dict]) -> list[dict]:
    """Caption rows of the manifest's videos: each video's clips in file order as segments."""
    clips = read_generic(path)
    wanted = {row["video_id"] for row in rows}
    if wanted and not any(c["video_id"] in wanted for c in clips):
        theirs = sorted({c["video_id"] for c in clips})[:3]
        raise ManifestError(
            f"{path}: no row names a video of the videos CSV (ids here: {', '.join(theirs)}; "
            f"there: {', '.join(sorted(wanted)[:3])})"
        )
    out, segments = [], dict.fromkeys(wanted, 0)
    for c in clips:
        vid = c["video_id"]
        if vid not in wanted:
            continue
        out.append(
            {
                "video_id": vid,
                "segment": segments[vid],
                "start_s": c["start_s"],
                "end_s": c["end_s"],
                "text": c["caption"],
            }
        )
        segments[vid] += 1
    return out


def generic_splits(path: str) -> dict[str, str]:
    """video id -> the split its rows give (videos whose rows give none are left out)."""
    return _video_splits(path, read_generic(path))


# --- reading -------------------------------------------------------------------------------


def _csv_records(path: str) -> Iterable[tuple[int, dict[str, str]]]:
    rows = csv_rows(path)
    if not rows:
        raise ManifestError(f"{path}: empty file (expected a header with {', '.join(REQUIRED)})")
    _, header = rows[0]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ManifestError(
            f"{path}, line {rows[0][0]}: no column {', '.join(missing)} in the header {header} "
            f"(the first line names the columns: {', '.join(REQUIRED)}[, split])"
        )
    twice = sorted({c for c in header if c and header.count(c) > 1})
    if twice:
        raise ManifestError(f"{path}, line {rows[0][0]}: column {', '.join(twice)} named twice")
    for line, cells in rows[1:]:
        if len(cells) != len(header):
            raise ManifestError(
                f"{path}, line {line}: {len(cells)} fields but the header has {len(header)}"
                " (quote a caption that contains a comma)"
            )
        yield line, {c: cells[header.index(c)] for c in (*REQUIRED, *OPTIONAL) if c in header}


def _json_records(path: str) -> list[tuple[int, dict]]:
    records = []
    for line, text in enumerate(lines(path), start=1):
        if not text.strip():
            continue
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as e:
            raise ManifestError(f"{path}, line {line}: not a JSON object ({e.msg})") from None
        if not isinstance(rec, dict):
            raise ManifestError(f"{path}, line {line}: not a JSON object but {rec!r:.40}")
        missing = [k for k in REQUIRED if k not in rec]
        if missing:
            raise ManifestError(f"{path}, line {line}: no key {', '.join(missing)}")
        records.append((line, rec))
    return records


def _text(value: object, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise ManifestError(f"{where}: {key} must be text, got {value!r:.40}")
    return value.strip()


def _seconds(value: object, key: str, where: str) -> float:
    if isinstance(value, str):
        return number(value, key, where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ManifestError(f"{where}: {key} {value!r:.40} is not a number")
    if not math.isfinite(value):
        raise ManifestError(f"{where}: {key} {value!r} is not a finite number")
    return float(value)


def _clip(path: str, line: int, rec: dict) -> Clip:
    where = f"{path}, line {line}"
    video_id = _text(rec["video_id"], "video_id", where)
    if not video_id:
        raise ManifestError(f"{where}: empty video_id")
    start, end = (_seconds(rec[k], k, where) for k in ("start_s", "end_s"))
    if start < 0 or end <= start:
        raise ManifestError(
            f"{where}: bad times start_s={start} end_s={end} (need 0 <= start_s < end_s)"
        )
    caption = _text(rec["caption"], "caption", where)
    if not caption:
        raise ManifestError(f"{where}: empty caption")
    split = rec.get("split")
    if split is not None:
        split = _text(split, "split", where) or None  # an empty split: none
    return {
        "video_id": video_id,
        "start_s": start,
        "end_s": end,
        "caption": caption,
        "split": split,
        "line": line,
    }


# --- checks across rows --------------------------------------------------------------------


def _refuse_duplicates(path: str, clips: list[Clip]) -> None:
    seen: dict[tuple, int] = {}
    for c in clips:
        key = (c["video_id"], c["start_s"], c["end_s"], c["caption"])
        if key in seen:
            raise ManifestError(
                f"{path}, line {c['line']}: the same clip and caption as line {seen[key]}"
            )
        seen[key] = c["line"]


def _video_splits(path: str, clips: list[Clip]) -> dict[str, str]:
    """video -> split; ManifestError when two rows of a video name different splits."""
    splits: dict[str, tuple[str, int]] = {}
    for c in clips:
        if c["split"] is None:
            continue
        first = splits.setdefault(c["video_id"], (c["split"], c["line"]))
        if first[0] != c["split"]:
            raise ManifestError(
                f"{path}, line {c['line']}: video {c['video_id']} in split {c['split']!r}, but "
                f"line {first[1]} puts it in {first[0]!r} (a video is in one split)"
            )
    return {vid: split for vid, (split, _) in splits.items()}
