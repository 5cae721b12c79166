"""CrossTask's release files (`crosstask_release/`): tasks_primary.txt, videos.csv,
videos_val.csv, annotations/<task>_<video>.csv; the test set (`crosstask_test_videos`: the paper's
list is unpublished), the T x K ground truth of CrossTask's `read_assignment` (`ground_truth`),
and the step queries as caption rows (`crosstask_captions`). Source: github.com/DmZhukov/CrossTask.

Each reader checks what later stages rely on and raises `ManifestError` naming the file, the line
and the problem: a wrong step count or a bad time would only show up as a wrong recall much later.
Header-less CSVs are read as the release writes them.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from eao.ingest.readers import Interval, ManifestError, blocks, csv_rows, lines, times

log = logging.getLogger(__name__)


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
    for first, block in blocks(lines(path)):
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
    rows = csv_rows(path)
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
    for line, cells in csv_rows(path):
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
        out.append((step, *times(cells[1], cells[2], where)))
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
            kept_task = first[video]
            message = "%s: video %s is listed for tasks %s and %s; only %s is evaluated"
            log.warning(message, source, video, kept_task, task, kept_task)
            continue
        first[video] = task
        kept.append((task, video))
    return kept


def crosstask_test_videos(
    release_dir: str, exclude_val: bool = False, test_list: str | None = None
) -> list[tuple[str, str]]:
    """The CrossTask test set (docs/benchmarks.md, the paper's list is unpublished).

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


def ground_truth(intervals_per_step: Sequence[Sequence[Interval]], n_frames: int) -> np.ndarray:
    """T x K uint8 matrix of 1-s frames (docs/benchmarks.md, CrossTask `read_assignment`): for every
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


def crosstask_captions(tasks_path: str, rows: list[dict]) -> list[dict]:
    """One query row per step of each listed video's task (segment = 0-based step index,
    start_s = end_s = 0.0: a step is a query for the whole video, not a timed caption)."""
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
