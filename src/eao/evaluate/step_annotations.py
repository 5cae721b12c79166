"""The test videos of a step-localization benchmark (CrossTask, Mining YouTube) with their step
annotations, as `eao localize` scores them (docs/benchmarks.md).

Each item is a dict: video_id, task, `steps` (the K step texts in order), `intervals` (per step
its annotated (start, end) seconds) and `query` (per step the text-table segment that embeds it:
the captions adapter wrote the steps as the video's caption segments, in this order).
"""

from __future__ import annotations

import os

from eao.ingest import crosstask, mining_youtube


def test_items(
    benchmark: str,
    annotations: str,
    steps: str = "occurrences",
    exclude_val: bool = False,
    test_list: str | None = None,
) -> list[dict]:
    """The annotated test videos of `benchmark`; `annotations` names the release file
    (crosstask: tasks_primary.txt; mining_youtube: a file beside videos_test.txt)."""
    folder = os.path.dirname(annotations)
    if benchmark == "crosstask":
        return crosstask_items(annotations, folder, exclude_val, test_list)
    return mining_youtube_items(folder, steps)


def crosstask_items(
    tasks_file: str, folder: str, exclude_val: bool, test_list: str | None
) -> list[dict]:
    """CrossTask's test videos (eao.ingest.crosstask.crosstask_test_videos), the steps those of
    their task; a step annotated several times keeps every interval."""
    tasks = crosstask.read_crosstask_tasks(tasks_file)
    videos = crosstask.crosstask_test_videos(folder, exclude_val=exclude_val, test_list=test_list)
    found = crosstask.crosstask_annotations(folder, videos)
    items = []
    for task_id, vid in videos:
        if vid not in found:
            continue
        task = tasks[task_id]
        per_step: list[list[tuple[float, float]]] = [[] for _ in task.steps]
        for step, start, end in found[vid][1]:
            per_step[step - 1].append((start, end))
        items.append(
            dict(
                video_id=vid,
                task=task_id,
                steps=list(task.steps),
                intervals=per_step,
                query=list(range(len(task.steps))),
            )
        )
    return items


def mining_youtube_items(folder: str, steps: str) -> list[dict]:
    """Mining YouTube's test videos (videos_test.txt), the steps their annotated occurrences,
    or with steps="unique" each label once (eao.ingest.mining_youtube.mining_steps)."""
    videos = mining_youtube.read_mining_videos(os.path.join(folder, "videos_test.txt"))
    found = mining_youtube.mining_annotations(folder, videos)
    items = []
    for vid in videos:
        if vid not in found:
            continue
        segments = found[vid]
        texts, intervals = mining_youtube.mining_steps(segments, mode=steps)
        labels = [label for label, _, _ in segments]
        if steps == "unique":  # the first occurrence's segment carries each label's query
            query = [labels.index(label) for label in dict.fromkeys(labels)]
        else:
            query = list(range(len(segments)))
        items.append(dict(video_id=vid, task="all", steps=texts, intervals=intervals, query=query))
    return items
