"""Adapters from what a user brings to the `manifest` and `captions` tables.

(a) A CSV of videos: a header with `path` and optionally `video_id` and `split`. Paths are
    relative to the dataset's data root (or absolute inside it); a path that leaves the root is
    refused before any work starts. Without a `video_id` column the id is the file name without
    its extension (HowTo100M's and the benchmarks' files are named by their YouTube ids).
(b) HowTo100M ASR captions, `caption.json`: {video_id: {"start": [...], "end": [...],
    "text": [...]}}. A bad segment (end < start, times that are not numbers, text that is not
    valid UTF-8) is dropped and becomes a failures row; a video without captions is a video
    without narration, which the corpus has by design.
(c) Benchmark annotations as captions (`--captions-format`, parsers in eao.data.annotations):
    - youcook2: youcookii_annotations_trainval.json, one segment per annotated step sentence.
    - msrvtt: MSRVTT_data.json, every caption of a clip spanning the whole clip. For a video of
      MSRVTT_JSFUSION_test.csv (beside the JSON, optional) segment 0 is the JSFusion sentence,
      the 1k-A test query (spec benchmarks.md 1.4): it is moved to the front if it is among the
      video's captions (compared ignoring case and extra spaces), else inserted there; the
      other captions follow in their order.
    - crosstask: the captions path is crosstask_release/tasks_primary.txt; the videos.csv
      beside it gives each video's task. Every manifest video listed there gets one row per
      step of its task: segment = step index (0-based), text = step name, start_s = end_s = 0.0
      because a step is a query for the whole video, not a timed caption.
    - mining_youtube: the captions path is weakYouTube_dict.txt; annotations/<id>.srt beside
      it gives one row per srt block in order: segment = occurrence index, start/end from the
      srt, text = the label with '_' -> ' ' (the step queries of the default "occurrences" mode).
    A video without annotations gets no rows (the evaluation reports it). Malformed benchmark
    files stop the run with the file and line (ManifestError): ground truth is never guessed.
(d) Splits: a split in the videos CSV always wins; an empty one is filled from the annotations:
    youcook2 the JSON's `subset` (training/validation); msrvtt `test` if in
    MSRVTT_JSFUSION_test.csv, else `train` if in MSRVTT_train.7k.csv (files beside the JSON,
    optional); crosstask `val` if in videos_val.csv, else `test` if in videos.csv; mining_youtube
    `val` if in videos_val.txt, else `test` if in videos_test.txt (MYT's val ids are part of
    its 250 test videos). Anything else stays empty.

Shards are consecutive blocks of `shard_size` rows in the CSV's order, so appending videos to a
CSV never changes the earlier shards' videos (snakemake reruns their jobs all the same: the new
manifest is newer than their outputs).

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

from eao.errors import ArgumentParser, BadInput, describe, run
from eao.io.parquet import CAPTIONS, FAILURES, MANIFEST, table_from_rows, write_table


class ManifestError(BadInput):
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


CAPTION_FORMATS = ("howto", "youcook2", "msrvtt", "crosstask", "mining_youtube")


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


def msrvtt_as_howto(
    data: dict, json_path: str, test_sentences: dict[str, str] | None = None
) -> dict:
    """MSRVTT_data.json -> {video: {start, end, text}}: every caption spans the whole clip.

    `test_sentences` (video -> JSFusion sentence): that sentence becomes the video's segment 0."""
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
    except (KeyError, TypeError, ValueError) as e:
        raise ManifestError(f"{json_path}: not an MSR-VTT data file ({e!r} missing)") from None
    for vid, sentence in (test_sentences or {}).items():
        entry = out.setdefault(vid, {"start": [], "end": [], "text": []})
        _sentence_first(entry, sentence, length.get(vid, 0.0))
    return out


def _same_sentence(a, b) -> bool:
    return isinstance(a, str) and " ".join(a.split()).lower() == " ".join(b.split()).lower()


def _sentence_first(entry: dict, sentence: str, length: float) -> None:
    """Move `sentence` to the front of a {start, end, text} entry, or insert it there."""
    match = next((i for i, t in enumerate(entry["text"]) if _same_sentence(t, sentence)), None)
    if match is None:
        entry["start"].insert(0, 0.0)
        entry["end"].insert(0, length)
        entry["text"].insert(0, sentence)
        return
    for key in ("start", "end", "text"):
        entry[key].insert(0, entry[key].pop(match))
    entry["text"][0] = sentence


def _beside(path: str, name: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(path)), name)


def _jsfusion_sentences(json_path: str) -> dict[str, str]:
    from eao.data.annotations import read_msrvtt_test_list

    test_csv = _beside(json_path, "MSRVTT_JSFUSION_test.csv")
    return read_msrvtt_test_list(test_csv) if os.path.isfile(test_csv) else {}


def crosstask_captions(tasks_path: str, rows: list[dict]) -> list[dict]:
    """One query row per step of each listed video's task (segment = 0-based step index)."""
    from eao.data.annotations import crosstask_video_tasks, read_crosstask_tasks

    tasks = read_crosstask_tasks(tasks_path)
    video_task = crosstask_video_tasks(os.path.dirname(os.path.abspath(tasks_path)))
    captions = []
    for row in rows:
        task = tasks.get(video_task.get(row["video_id"], ""))
        for k, name in enumerate(task.steps if task else ()):
            captions.append(
                dict(video_id=row["video_id"], segment=k, start_s=0.0, end_s=0.0, text=name)
            )
    return captions


def mining_youtube_captions(dict_path: str, rows: list[dict]) -> list[dict]:
    """One row per srt block of each video (segment = occurrence index, label '_' -> ' ')."""
    from eao.data.annotations import mining_srt_path, read_srt, step_text

    folder = os.path.dirname(os.path.abspath(dict_path))
    captions = []
    for row in rows:
        srt = mining_srt_path(folder, row["video_id"])
        if not os.path.isfile(srt):
            continue
        for k, (label, start, end) in enumerate(read_srt(srt)):
            text = step_text(label)
            captions.append(
                dict(video_id=row["video_id"], segment=k, start_s=start, end_s=end, text=text)
            )
    return captions


def read_captions(
    json_path: str, rows: list[dict], fmt: str = "howto"
) -> tuple[list[dict], list[dict]]:
    """Caption rows for the manifest's videos, and failures rows for the segments dropped.

    `fmt`: howto (caption.json), youcook2 (annotations JSON: one segment per annotated step
    with its sentence), msrvtt (MSRVTT_data.json: every caption of a clip, the JSFusion test
    sentence first), crosstask (tasks_primary.txt: the step queries of each video's task) or
    mining_youtube (weakYouTube_dict.txt: the srt steps of each video); module docstring (c)."""
    if fmt not in CAPTION_FORMATS:
        raise ManifestError(f"unknown captions format {fmt!r} (one of {CAPTION_FORMATS})")
    if fmt == "crosstask":
        return crosstask_captions(json_path, rows), []
    if fmt == "mining_youtube":
        return mining_youtube_captions(json_path, rows), []
    data = _load_json(json_path)
    if fmt == "youcook2":
        data = youcook2_as_howto(data, json_path)
    elif fmt == "msrvtt":
        data = msrvtt_as_howto(data, json_path, _jsfusion_sentences(json_path))
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


def annotation_splits(captions_path: str, fmt: str) -> dict[str, str]:
    """video id -> split known from a benchmark's own files (module docstring (d))."""
    from eao.data import annotations as ann

    def listed(name: str, reader) -> list:
        path = _beside(captions_path, name)
        return reader(path) if os.path.isfile(path) else []

    if fmt == "youcook2":
        return ann.youcook2_splits(captions_path)
    if fmt == "msrvtt":
        pairs = [(v, "train") for v in listed("MSRVTT_train.7k.csv", ann.read_msrvtt_train_list)]
        pairs += [
            (v, "test") for v in listed("MSRVTT_JSFUSION_test.csv", ann.read_msrvtt_test_list)
        ]
    elif fmt == "crosstask":
        pairs = [(v, "test") for _, v in listed("videos.csv", ann.read_crosstask_videos)]
        pairs += [(v, "val") for _, v in listed("videos_val.csv", ann.read_crosstask_videos)]
    elif fmt == "mining_youtube":
        pairs = [(v, "test") for v in listed("videos_test.txt", ann.read_mining_videos)]
        pairs += [(v, "val") for v in listed("videos_val.txt", ann.read_mining_videos)]
    else:
        return {}
    return dict(pairs)  # later entries win: test over train, val over test


def fill_splits(rows: list[dict], splits: dict[str, str]) -> None:
    """Give rows without a split (None) the annotations' split; a CSV split always wins."""
    for row in rows:
        if row["split"] is None:
            row["split"] = splits.get(row["video_id"])


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


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="eao manifest", description=__doc__,
                        formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--videos", required=True, help="CSV with a 'path' column")
    ap.add_argument("--root", required=True, help="data root the paths are relative to")
    ap.add_argument(
        "--captions",
        help="caption file (optional): caption.json, YouCook2 JSON, MSRVTT_data.json, "
        "crosstask_release/tasks_primary.txt or Mining YouTube's weakYouTube_dict.txt",
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
