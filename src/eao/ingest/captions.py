"""Caption rows for a manifest's videos: HowTo100M's caption.json and the benchmarks' annotations
read as captions (`--captions-format`), and the splits the annotations know.

- howto: `caption.json`, {video_id: {"start": [...], "end": [...], "text": [...]}}. A bad
  segment (end < start, times that are not numbers, text that is not valid UTF-8) is dropped and
  becomes a failures row; a video without captions is a video without narration, which the
  corpus has by design.
- youcook2: youcookii_annotations_trainval.json, one segment per annotated step sentence.
- msrvtt: MSRVTT_data.json, every caption of a clip spanning the whole clip. For a video of
  MSRVTT_JSFUSION_test.csv (beside the JSON, optional) segment 0 is the JSFusion sentence, the
  1k-A test query: it is moved to the front if it is among the video's captions (compared
  ignoring case and extra spaces), else inserted there; the other captions follow in order.
- crosstask: the captions path is crosstask_release/tasks_primary.txt; the videos.csv beside it
  gives each video's task. Every manifest video listed there gets one row per step of its task.
- mining_youtube: the captions path is weakYouTube_dict.txt; annotations/<id>.srt beside it gives
  one row per srt block in order (segment = occurrence index, label '_' -> ' ').
- generic: your own benchmark, a CSV (or JSON-lines) file of captioned clips, columns
  video_id, start_s, end_s, caption[, split] (eao.ingest.generic): each video's clips in file
  order, one segment each.
A video without annotations gets no rows (the evaluation reports it). Malformed benchmark files
stop the run with the file and line (ManifestError): ground truth is never guessed.

Splits (`annotation_splits`): youcook2 the JSON's `subset` (training/validation); msrvtt `test`
if in MSRVTT_JSFUSION_test.csv, else `train` if in MSRVTT_train.7k.csv (files beside the JSON,
optional); crosstask `val` if in videos_val.csv, else `test` if in videos.csv; mining_youtube
`val` if in videos_val.txt, else `test` if in videos_test.txt (MYT's val ids are part of its 250
test videos); generic the `split` column of a video's rows. Anything else stays empty; a split
in the videos CSV always wins (`fill_splits`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

from eao.ingest import crosstask, generic, mining_youtube, msrvtt, youcook2
from eao.ingest.readers import ManifestError, beside, load_json

# The files each layout's readers open beside its captions file (a trailing "/": a folder of
# per-video files): the annotation splits above, CrossTask's task of each video and its step
# annotations, Mining YouTube's test list and srt files. The workflow declares those present as
# inputs of the jobs that read them (eao.workflow.demo_files.release_files).
READ_BESIDE: dict[str, list[str]] = {
    "msrvtt": ["MSRVTT_JSFUSION_test.csv", "MSRVTT_train.7k.csv"],
    "crosstask": ["videos.csv", "videos_val.csv", "annotations/"],
    "mining_youtube": ["videos_test.txt", "videos_val.txt", "annotations/"],
}

CAPTION_FORMATS = ("howto", "youcook2", "msrvtt", "crosstask", "mining_youtube", "generic")


def read_captions(
    json_path: str, rows: list[dict], fmt: str = "howto"
) -> tuple[list[dict], list[dict]]:
    """Caption rows for the manifest's videos, and failures rows for the segments dropped.

    `fmt`: howto (caption.json), youcook2 (annotations JSON: one segment per annotated step
    with its sentence), msrvtt (MSRVTT_data.json: every caption of a clip, the JSFusion test
    sentence first), crosstask (tasks_primary.txt: the step queries of each video's task),
    mining_youtube (weakYouTube_dict.txt: the srt steps of each video) or generic (your own
    benchmark's clips: eao.ingest.generic); module docstring."""
    if fmt not in CAPTION_FORMATS:
        raise ManifestError(f"unknown captions format {fmt!r} (one of {CAPTION_FORMATS})")
    if fmt == "crosstask":
        return crosstask.crosstask_captions(json_path, rows), []
    if fmt == "mining_youtube":
        return mining_youtube.mining_youtube_captions(json_path, rows), []
    if fmt == "generic":
        return generic.generic_captions(json_path, rows), []
    data = load_json(json_path, keep_bad_bytes=True)
    if fmt == "youcook2":
        data = youcook2.youcook2_as_howto(data, json_path)
    elif fmt == "msrvtt":
        data = msrvtt.msrvtt_as_howto(data, json_path, msrvtt.jsfusion_sentences(json_path))
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
    """video id -> split known from a benchmark's own files (module docstring)."""

    def listed(name: str, reader) -> list:
        path = beside(captions_path, name)
        return reader(path) if os.path.isfile(path) else []

    if fmt == "youcook2":
        return youcook2.youcook2_splits(captions_path)
    if fmt == "generic":
        return generic.generic_splits(captions_path)
    if fmt == "msrvtt":
        pairs = [(v, "train") for v in listed("MSRVTT_train.7k.csv", msrvtt.read_msrvtt_train_list)]
        pairs += [
            (v, "test") for v in listed("MSRVTT_JSFUSION_test.csv", msrvtt.read_msrvtt_test_list)
        ]
    elif fmt == "crosstask":
        pairs = [(v, "test") for _, v in listed("videos.csv", crosstask.read_crosstask_videos)]
        pairs += [(v, "val") for _, v in listed("videos_val.csv", crosstask.read_crosstask_videos)]
    elif fmt == "mining_youtube":
        pairs = [(v, "test") for v in listed("videos_test.txt", mining_youtube.read_mining_videos)]
        pairs += [(v, "val") for v in listed("videos_val.txt", mining_youtube.read_mining_videos)]
    else:
        return {}
    return dict(pairs)  # later entries win: test over train, val over test


def fill_splits(rows: list[dict], splits: dict[str, str]) -> None:
    """Give rows without a split (None) the annotations' split; a CSV split always wins."""
    for row in rows:
        if row["split"] is None:
            row["split"] = splits.get(row["video_id"])
