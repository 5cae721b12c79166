"""Parsers of the benchmarks' public release files (spec benchmarks.md 1.7-1.8, 2.1-2.3, 3.1-3.2).

Each reader takes the file exactly as the dataset's authors distribute it (and as the demo world
writes it, `eao.demo.formats`), checks what later stages rely on, and raises `ManifestError`
naming the file, the line and the problem: a benchmark's ground truth is never silently repaired,
because a wrong step count or a bad time would only show up as a wrong recall much later.
Tolerated on purpose, because real downloads have them: a UTF-8 byte order mark, CRLF line ends,
blank lines at the end, header-less CSVs, and srt times written with '.' instead of ','.

- CrossTask (`crosstask_release/`): tasks_primary.txt, videos.csv, videos_val.csv,
  annotations/<task>_<video>.csv; the test set (`crosstask_test_videos`, spec 2.2).
- Mining YouTube: annotations/<id>.srt (raw `verb_object` labels), videos_test.txt,
  videos_val.txt; the per-video step list (`mining_steps`, spec 3.2).
- `ground_truth`: the T x K 0/1 matrix of CrossTask's `read_assignment` (spec 2.3).
- YouCook2: MIL-NCE's validation_youcook.csv, the annotation JSON's subsets.
- MSR-VTT: MSRVTT_JSFUSION_test.csv (the 1k-A test sentences), MSRVTT_train.7k.csv.

Pure Python and numpy: cheap enough to call when the workflow's DAG is built.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from eao.data.manifest import ManifestError

log = logging.getLogger(__name__)

Interval = tuple[float, float]

# --- shared text helpers ------------------------------------------------------------------------


def _read_text(path: str) -> str:
    """The file's text (UTF-8, byte order mark dropped); ManifestError if unreadable."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ManifestError(f"{path}: cannot read the file ({e.strerror or e})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ManifestError(
            f"{path}, line {line}: not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None


def _lines(path: str) -> list[str]:
    """Physical lines (numbered from 1 as an editor shows them); CRLF and CR ends accepted."""
    text = _read_text(path).replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _blocks(lines: Sequence[str]) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines separated by blank lines: (line number of the first, lines)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                blocks.append((number, current))
            current.append(line.strip())
        else:
            current = []
    return blocks


def _csv_rows(path: str) -> list[tuple[int, list[str]]]:
    """Non-blank CSV rows with their line numbers, cells stripped."""
    reader = csv.reader(io.StringIO(_read_text(path)))
    rows = []
    try:
        for row in reader:
            cells = [c.strip() for c in row]
            if any(cells):
                rows.append((reader.line_num, cells))
    except csv.Error as e:
        raise ManifestError(f"{path}, line {reader.line_num}: not a CSV file ({e})") from None
    return rows


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ManifestError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ManifestError(f"{where}: {what} {text!r} is not a finite number")
    return value


def _times(start: str, end: str, where: str) -> Interval:
    s, e = _number(start, "start", where), _number(end, "end", where)
    if s < 0 or e < s:
        raise ManifestError(f"{where}: bad times start={s} end={e} (need 0 <= start <= end)")
    return s, e


def _header_rows(
    path: str, required: Sequence[str], optional: Sequence[str] = ()
) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV with a header, as {column: cell} for the named columns (any order)."""
    rows = _csv_rows(path)
    if not rows:
        raise ManifestError(f"{path}: empty file (expected a header with {', '.join(required)})")
    _, header = rows[0]
    missing = [c for c in required if c not in header]
    if missing:
        raise ManifestError(f"{path}: no column {', '.join(missing)} in the header {header}")
    wanted = {c: header.index(c) for c in [*required, *optional] if c in header}
    out = []
    for line, cells in rows[1:]:
        if len(cells) < len(header):
            raise ManifestError(
                f"{path}, line {line}: {len(cells)} fields but the header has {len(header)}"
            )
        out.append((line, {c: cells[i] for c, i in wanted.items()}))
    return out


def _load_json(path: str):
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path}, line {e.lineno}: not a JSON file ({e.msg})") from None


# --- CrossTask ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrossTaskTask:
    """One block of tasks_primary.txt; `steps` in canonical order (step k is steps[k - 1])."""

    task_id: str
    title: str
    url: str
    steps: tuple[str, ...]

    @property
    def n_steps(self) -> int:
        return len(self.steps)


def read_crosstask_tasks(path: str) -> dict[str, CrossTaskTask]:
    """tasks_primary.txt: five-line blocks (id, title, url, K, K step names joined by commas)
    separated by blank lines. K is checked against the names: a comma inside a step name would
    otherwise shift every later step column."""
    tasks: dict[str, CrossTaskTask] = {}
    for first, block in _blocks(_lines(path)):
        if len(block) != 5:
            raise ManifestError(
                f"{path}, line {first}: a task block has {len(block)} lines, expected 5 "
                "(task id, title, url, number of steps, step names joined by commas)"
            )
        task_id, title, url, count, names = block
        try:
            k = int(count)
        except ValueError:
            raise ManifestError(
                f"{path}, line {first + 3}: number of steps {count!r} is not an integer"
            ) from None
        steps = tuple(s.strip() for s in names.split(","))
        if k != len(steps):
            raise ManifestError(
                f"{path}, line {first + 4}: task {task_id} announces {k} steps (line "
                f"{first + 3}) but lists {len(steps)} step names"
            )
        if not all(steps):
            raise ManifestError(f"{path}, line {first + 4}: empty step name in task {task_id}")
        if task_id in tasks:
            raise ManifestError(f"{path}, line {first}: task {task_id} is listed twice")
        tasks[task_id] = CrossTaskTask(task_id, title, url, steps)
    if not tasks:
        raise ManifestError(f"{path}: no task blocks")
    return tasks


_TASK_COLUMNS = ("task", "task_id")
_VIDEO_COLUMNS = ("video_id", "video", "vid")


def read_crosstask_videos(path: str) -> list[tuple[str, str]]:
    """(task id, video id) pairs of videos.csv / videos_val.csv (`task_id,video_id,url`, no
    header) or of a user test list (`task,video_id`, with or without a header, e.g. MCN's
    cvpr19_test.csv). Repeated pairs are kept once, in first-seen order."""
    rows = _csv_rows(path)
    task_col, video_col = 0, 1
    header = [c.lower() for c in rows[0][1]] if rows else []
    if set(header) & {*_TASK_COLUMNS, *_VIDEO_COLUMNS}:  # ids are never these words
        rows.pop(0)
        task_col = next((header.index(c) for c in _TASK_COLUMNS if c in header), -1)
        video_col = next((header.index(c) for c in _VIDEO_COLUMNS if c in header), -1)
        if min(task_col, video_col) < 0:
            raise ManifestError(f"{path}: need task and video_id columns, header is {header}")
    pairs: dict[tuple[str, str], None] = {}
    for line, cells in rows:
        if len(cells) <= max(task_col, video_col):
            raise ManifestError(f"{path}, line {line}: expected task_id,video_id[,url]")
        task, video = cells[task_col], cells[video_col]
        if not task or not video:
            raise ManifestError(f"{path}, line {line}: empty task or video id")
        pairs[(task, video)] = None
    return list(pairs)


def read_crosstask_annotation(
    path: str, n_steps: int | None = None
) -> list[tuple[int, float, float]]:
    """annotations/<task>_<video>.csv: (step 1-based, start s, end s) per annotated step
    occurrence, in file order. `n_steps` (the task's K) bounds the step numbers."""
    out = []
    for line, cells in _csv_rows(path):
        where = f"{path}, line {line}"
        if len(cells) != 3:
            raise ManifestError(f"{where}: {len(cells)} fields, expected step,start,end")
        try:
            step = int(cells[0])
        except ValueError:
            raise ManifestError(f"{where}: step {cells[0]!r} is not an integer") from None
        if step < 1 or (n_steps is not None and step > n_steps):
            bound = f"1..{n_steps}" if n_steps is not None else ">= 1"
            raise ManifestError(f"{where}: step {step} out of range (the task's steps: {bound})")
        out.append((step, *_times(cells[1], cells[2], where)))
    return out


def crosstask_annotation_path(release_dir: str, task_id: str, video_id: str) -> str:
    return os.path.join(release_dir, "annotations", f"{task_id}_{video_id}.csv")


def crosstask_intervals_per_step(
    annotation: Iterable[tuple[int, float, float]], n_steps: int
) -> list[list[Interval]]:
    """Annotation lines -> K interval lists (column k = step k + 1), the input of ground_truth."""
    per_step: list[list[Interval]] = [[] for _ in range(n_steps)]
    for step, start, end in annotation:
        per_step[step - 1].append((start, end))
    return per_step


def _one_task_per_video(pairs: list[tuple[str, str]], source: str) -> list[tuple[str, str]]:
    """Keep a video's first task only: results and the manifest are keyed by video id. A video
    listed under two tasks is logged, not silently merged."""
    first: dict[str, str] = {}
    kept = []
    for task, video in pairs:
        if video in first:
            log.warning(
                "%s: video %s is listed for tasks %s and %s; only %s is evaluated",
                source, video, first[video], task, first[video],
            )  # fmt: skip
            continue
        first[video] = task
        kept.append((task, video))
    return kept


def crosstask_test_videos(
    release_dir: str, exclude_val: bool = False, test_list: str | None = None
) -> list[tuple[str, str]]:
    """The CrossTask test set (spec 2.2, the paper's list is unpublished).

    Default: every primary-task video of videos.csv that has an annotation file, in file order.
    `exclude_val`: minus the pairs of videos_val.csv. `test_list`: exactly the pairs of a user
    `task,video_id` file instead (e.g. cvpr19_test.csv); its tasks must be primary tasks."""
    tasks = read_crosstask_tasks(os.path.join(release_dir, "tasks_primary.txt"))
    if test_list is not None:
        pairs = read_crosstask_videos(test_list)
        unknown = sorted({t for t, _ in pairs if t not in tasks})
        if unknown:
            raise ManifestError(f"{test_list}: tasks {unknown} are not in tasks_primary.txt")
        return _one_task_per_video(pairs, test_list)
    videos_csv = os.path.join(release_dir, "videos.csv")
    pairs = [
        (t, v)
        for t, v in read_crosstask_videos(videos_csv)
        if t in tasks and os.path.isfile(crosstask_annotation_path(release_dir, t, v))
    ]
    if exclude_val:
        val = set(read_crosstask_videos(os.path.join(release_dir, "videos_val.csv")))
        pairs = [p for p in pairs if p not in val]
    return _one_task_per_video(pairs, videos_csv)


def crosstask_annotations(
    release_dir: str, videos: Sequence[tuple[str, str]] | None = None
) -> dict[str, tuple[str, list[tuple[int, float, float]]]]:
    """video id -> (task id, annotation lines) for `videos`, (task id, video id) pairs as
    crosstask_test_videos returns them (the default). A pair without an annotation file is left
    out (the evaluation reports it)."""
    tasks = read_crosstask_tasks(os.path.join(release_dir, "tasks_primary.txt"))
    pairs = crosstask_test_videos(release_dir) if videos is None else videos
    if any(isinstance(p, str) for p in pairs):
        raise TypeError("crosstask_annotations wants (task_id, video_id) pairs, not video ids")
    out: dict[str, tuple[str, list[tuple[int, float, float]]]] = {}
    for task, video in _one_task_per_video(list(pairs), release_dir):
        if task not in tasks:
            raise ManifestError(f"{release_dir}: task {task} of video {video} is not primary")
        path = crosstask_annotation_path(release_dir, task, video)
        if os.path.isfile(path):
            out[video] = (task, read_crosstask_annotation(path, tasks[task].n_steps))
    return out


def crosstask_video_tasks(release_dir: str) -> dict[str, str]:
    """video id -> task id for the primary-task videos of videos.csv (first task wins)."""
    tasks = read_crosstask_tasks(os.path.join(release_dir, "tasks_primary.txt"))
    videos_csv = os.path.join(release_dir, "videos.csv")
    pairs = [(t, v) for t, v in read_crosstask_videos(videos_csv) if t in tasks]
    return {v: t for t, v in _one_task_per_video(pairs, videos_csv)}


# --- Mining YouTube -----------------------------------------------------------------------------

_SRT_TIME = r"(\d+):([0-5]?\d):([0-5]?\d)(?:[,.](\d+))?"
_SRT_LINE = re.compile(rf"^{_SRT_TIME}\s*-->\s*{_SRT_TIME}$")


def _srt_seconds(h: str, m: str, s: str, frac: str | None) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + (float(f"0.{frac}") if frac else 0.0)


def read_srt(path: str) -> list[tuple[str, float, float]]:
    """(label, start s, end s) of each block of an .srt file, in file order.

    Blocks: an optional number, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, exactly one label line. More
    label lines usually mean a missing blank line between two blocks, so they are refused."""
    out = []
    for first, block in _blocks(_lines(path)):
        i = 0 if "-->" in block[0] else 1
        if i and not block[0].isdigit():
            raise ManifestError(
                f"{path}, line {first}: expected a block number or a time line, got {block[0]!r}"
            )
        if len(block) <= i:
            raise ManifestError(f"{path}, line {first}: truncated block {block[0]} (no time line)")
        where = f"{path}, line {first + i}"
        match = _SRT_LINE.match(block[i])
        if not match:
            raise ManifestError(f"{where}: bad time line {block[i]!r} (HH:MM:SS,mmm --> ...)")
        start, end = _srt_seconds(*match.groups()[:4]), _srt_seconds(*match.groups()[4:])
        if end < start:
            raise ManifestError(f"{where}: bad times, end {end} is before start {start}")
        labels = block[i + 1 :]
        if len(labels) != 1:
            if not labels:
                raise ManifestError(f"{where}: truncated block (no label line)")
            raise ManifestError(
                f"{where}: {len(labels)} label lines, expected 1 (missing blank line between "
                "blocks?)"
            )
        out.append((labels[0], start, end))
    return out


def step_text(label: str) -> str:
    """A MYT label as a text query: `pour_egg_whites` -> `pour egg whites`."""
    return label.replace("_", " ")


def mining_steps(
    segments: Sequence[tuple[str, float, float]], mode: str = "occurrences"
) -> tuple[list[str], list[list[Interval]]]:
    """The step list of one video (spec 3.2, open choice): step texts and, per step, its
    intervals. "occurrences" (default): one step per srt block in order, a repeated label is a
    new step; "unique": one step per distinct label in first-occurrence order, with all of its
    intervals. No background step either way."""
    if mode == "occurrences":
        return [step_text(lab) for lab, _, _ in segments], [[(s, e)] for _, s, e in segments]
    if mode != "unique":
        raise ValueError(f"mining_steps mode must be 'occurrences' or 'unique', got {mode!r}")
    per_label: dict[str, list[Interval]] = {}
    for label, start, end in segments:
        per_label.setdefault(label, []).append((start, end))
    return [step_text(lab) for lab in per_label], list(per_label.values())


def read_mining_videos(path: str) -> list[str]:
    """videos_test.txt / videos_val.txt: one YouTube id per line (repeats kept once)."""
    ids: dict[str, None] = {}
    for number, line in enumerate(_lines(path), start=1):
        vid = line.strip()
        if not vid:
            continue
        if len(vid.split()) != 1:
            raise ManifestError(f"{path}, line {number}: expected one video id, got {vid!r}")
        ids[vid] = None
    return list(ids)


def mining_srt_path(folder: str, video_id: str) -> str:
    return os.path.join(folder, "annotations", f"{video_id}.srt")


def mining_annotations(
    folder: str, videos: Sequence[str] | None = None
) -> dict[str, list[tuple[str, float, float]]]:
    """video id -> srt segments for `videos` (default: videos_test.txt of `folder`); a video
    without annotations/<id>.srt is left out (the evaluation reports it)."""
    if videos is None:
        videos = read_mining_videos(os.path.join(folder, "videos_test.txt"))
    out = {}
    for vid in videos:
        path = mining_srt_path(folder, vid)
        if os.path.isfile(path):
            out[vid] = read_srt(path)
    return out


# --- ground truth -------------------------------------------------------------------------------


def ground_truth(intervals_per_step: Sequence[Sequence[Interval]], n_frames: int) -> np.ndarray:
    """T x K uint8 matrix of 1-s frames (spec 2.3, CrossTask `read_assignment`): for every
    interval of step k, rows floor(start) .. ceil(end) - 1 of column k are 1, clipped to T."""
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    y = np.zeros((n_frames, len(intervals_per_step)), dtype=np.uint8)
    for k, intervals in enumerate(intervals_per_step):
        for start, end in intervals:
            lo, hi = max(0, math.floor(start)), min(n_frames, math.ceil(end))
            if hi > lo:
                y[lo:hi, k] = 1
    return y


# --- YouCook2 -----------------------------------------------------------------------------------


def read_youcook2_val_clips(path: str) -> list[dict]:
    """MIL-NCE validation_youcook.csv (columns end,start,task,text,video_id in any order by
    the header; task optional): one dict per clip with video_id, start, end (s), task, text."""
    clips = []
    for line, rec in _header_rows(path, ("video_id", "start", "end", "text"), ("task",)):
        where = f"{path}, line {line}"
        if not rec["video_id"]:
            raise ManifestError(f"{where}: empty video_id")
        start, end = _times(rec["start"], rec["end"], where)
        clips.append({"video_id": rec["video_id"], "start": start, "end": end,
                      "task": rec.get("task"), "text": rec["text"]})  # fmt: skip
    return clips


def youcook2_splits(annotation_json: str) -> dict[str, str]:
    """video id -> `subset` (training / validation) of youcookii_annotations_trainval.json."""
    data = _load_json(annotation_json)
    try:
        return {vid: str(entry["subset"]) for vid, entry in data["database"].items()}
    except (KeyError, TypeError, AttributeError) as e:
        raise ManifestError(
            f"{annotation_json}: not a YouCook2 annotation file ({e!r} missing)"
        ) from None


# --- MSR-VTT ------------------------------------------------------------------------------------


def read_msrvtt_test_list(path: str) -> dict[str, str]:
    """MSRVTT_JSFUSION_test.csv (key,vid_key,video_id,sentence): video id -> test sentence."""
    out: dict[str, str] = {}
    for line, rec in _header_rows(path, ("video_id", "sentence")):
        vid = rec["video_id"]
        if not vid:
            raise ManifestError(f"{path}, line {line}: empty video_id")
        if vid in out:
            raise ManifestError(f"{path}, line {line}: video {vid} is listed twice")
        out[vid] = rec["sentence"]
    return out


def read_msrvtt_train_list(path: str) -> list[str]:
    """MSRVTT_train.7k.csv (column video_id): the training video ids, in file order. A list
    without its header line (first cell like `video123`) is read as one id column."""
    rows = _csv_rows(path)
    if rows and re.fullmatch(r"video\d+", rows[0][1][0]):
        return list(dict.fromkeys(cells[0] for _, cells in rows))
    return list(dict.fromkeys(rec["video_id"] for _, rec in _header_rows(path, ("video_id",))))
