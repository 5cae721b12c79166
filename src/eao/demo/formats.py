"""Write the demo datasets in the public release formats of the real data.

- howto:          videos.csv + caption.json (HowTo100M: {id: {start: [], end: [], text: []}})
- youcook2:       youcookii_annotations_trainval.json + val_clips.csv (MIL-NCE column order)
- msrvtt:         MSRVTT_data.json + MSRVTT_train.7k.csv + MSRVTT_JSFUSION_test.csv
- crosstask:      crosstask_release/{tasks_primary.txt, videos.csv, videos_val.csv,
                  annotations/<task>_<video>.csv}
- mining_youtube: videos_test.txt, videos_val.txt, annotations/<id>.srt, groundTruth/<id>.txt,
                  transcript/<id>.txt, weakYouTube_dict.txt
Every dataset also gets `videos.csv` (video_id,path,split): the generic manifest input, the same
file a user writes for their own videos. Formats: docs/benchmarks.md and docs/data.md.
"""

from __future__ import annotations

import csv
import json
import math
import os

from eao.demo.world import Task, Video, World
from eao.io.atomic import atomic_open

# Everything the writers below put in a dataset's folder besides videos.csv and the rendered
# videos/ (a trailing "/": a folder of per-video files). The workflow declares each as an output
# of rule demo_world and as an input of the jobs that read a dataset's files beside its captions
# (eao.workflow.demo_files); tests/test_demo.py checks that nothing else is written.
RELEASE_FILES = {
    "howto": ["caption.json"],
    "youcook2": ["youcookii_annotations_trainval.json", "val_clips.csv"],
    "msrvtt": ["MSRVTT_data.json", "MSRVTT_train.7k.csv", "MSRVTT_JSFUSION_test.csv"],
    "crosstask": [
        "crosstask_release/tasks_primary.txt",
        "crosstask_release/videos.csv",
        "crosstask_release/videos_val.csv",
        "crosstask_release/annotations/",
    ],
    "mining_youtube": [
        "weakYouTube_dict.txt",
        "videos_test.txt",
        "videos_val.txt",
        "annotations/",
        "groundTruth/",
        "transcript/",
    ],
}
VIDEOS_DIR = "videos/"  # the rendered mp4 files of a dataset (video_path)


def _write_text(path: str, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _write_csv(path: str, header: list[str] | None, rows: list[list]) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def write_json(path: str, obj) -> None:
    _write_text(path, json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def video_path(video: Video) -> str:
    """Path of a video file relative to its dataset folder."""
    return f"{VIDEOS_DIR}{video.video_id}.mp4"


def write_videos_csv(folder: str, videos: list[Video]) -> None:
    rows = [[v.video_id, video_path(v), v.split or ""] for v in videos]
    _write_csv(os.path.join(folder, "videos.csv"), ["video_id", "path", "split"], rows)


def write_howto(folder: str, world: World) -> None:
    captions = {
        v.video_id: {
            "start": [c.start for c in v.captions],
            "end": [c.end for c in v.captions],
            "text": [c.text for c in v.captions],
        }
        for v in world.videos["howto"]
        if v.captions
    }
    write_json(os.path.join(folder, "caption.json"), captions)


def write_youcook2(folder: str, world: World) -> None:
    database, val_rows = {}, []
    for v in world.videos["youcook2"]:
        task = world.tasks[v.task]
        anns = []
        for i, (seg, cap) in enumerate(zip(v.segments, v.captions, strict=True)):
            start, end = math.floor(seg.start), math.ceil(seg.end)  # YouCook2 uses whole seconds
            anns.append({"id": i, "segment": [start, end], "sentence": cap.text})
            if v.split == "validation":
                val_rows.append([end, start, task.task_id, cap.text, v.video_id])
        database[v.video_id] = {
            "subset": v.split,
            "recipe_type": task.task_id,
            "duration": v.duration,
            "video_url": f"https://www.youtube.com/watch?v={v.video_id}",
            "annotations": anns,
        }
    write_json(os.path.join(folder, "youcookii_annotations_trainval.json"), {"database": database})
    _write_csv(
        os.path.join(folder, "val_clips.csv"),
        ["end", "start", "task", "text", "video_id"],
        val_rows,
    )


def write_msrvtt(folder: str, world: World) -> None:
    videos, sentences, train, test = [], [], [], []
    for i, v in enumerate(world.videos["msrvtt"]):
        videos.append(
            {
                "category": v.task,
                "url": "",
                "video_id": v.video_id,
                "start time": 0.0,
                "end time": v.duration,
                "split": "test" if v.split == "test" else "train",
                "id": i,
            }
        )
        for cap in v.captions:
            sentences.append(
                {"caption": cap.text, "video_id": v.video_id, "sen_id": len(sentences)}
            )
        if v.split == "test":
            num = v.video_id.removeprefix("video")
            test.append([f"ret{len(test)}", f"msr{num}", v.video_id, v.captions[0].text])
        else:
            train.append([v.video_id])
    write_json(
        os.path.join(folder, "MSRVTT_data.json"),
        {
            "info": {"description": "EAO demo world, MSR-VTT layout"},
            "videos": videos,
            "sentences": sentences,
        },
    )
    _write_csv(os.path.join(folder, "MSRVTT_train.7k.csv"), ["video_id"], train)
    _write_csv(
        os.path.join(folder, "MSRVTT_JSFUSION_test.csv"),
        ["key", "vid_key", "video_id", "sentence"],
        test,
    )


def write_crosstask(folder: str, world: World) -> None:
    release = os.path.join(folder, "crosstask_release")
    blocks = []
    for task in world.tasks:
        steps = ",".join(s.name for s in task.steps)
        url = f"https://www.wikihow.com/{task.title.replace(' ', '-')}"
        blocks.append(f"{task.task_id}\n{task.title}\n{url}\n{len(task.steps)}\n{steps}\n")
    _write_text(os.path.join(release, "tasks_primary.txt"), "\n".join(blocks) + "\n")
    rows, val_rows = [], []
    for v in world.videos["crosstask"]:
        task = world.tasks[v.task]
        line = [task.task_id, v.video_id, f"https://www.youtube.com/watch?v={v.video_id}"]
        (val_rows if v.split == "val" else rows).append(line)
        ann = [[seg.step + 1, f"{seg.start:.2f}", f"{seg.end:.2f}"] for seg in v.segments]
        _write_csv(
            os.path.join(release, "annotations", f"{task.task_id}_{v.video_id}.csv"), None, ann
        )
    _write_csv(os.path.join(release, "videos.csv"), None, rows + val_rows)
    _write_csv(os.path.join(release, "videos_val.csv"), None, val_rows)


def _srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def write_mining_youtube(folder: str, world: World, fps: int) -> None:
    labels = sorted({s.label for t in world.tasks for s in t.steps})
    dictionary = "\n".join(labels + ["background"]) + "\n"  # background is the last class
    _write_text(os.path.join(folder, "weakYouTube_dict.txt"), dictionary)
    vids = world.videos["mining_youtube"]
    _write_text(os.path.join(folder, "videos_test.txt"), "".join(f"{v.video_id}\n" for v in vids))
    val = [v for v in vids if v.split == "val"]
    _write_text(os.path.join(folder, "videos_val.txt"), "".join(f"{v.video_id}\n" for v in val))
    for v in vids:
        task: Task = world.tasks[v.task]
        srt = [
            f"{i}\n{_srt_time(s.start)} --> {_srt_time(s.end)}\n{task.steps[s.step].label}\n"
            for i, s in enumerate(v.segments, start=1)
        ]
        _write_text(os.path.join(folder, "annotations", f"{v.video_id}.srt"), "\n".join(srt))
        frames = []
        for k in range(int(round(v.duration * fps))):
            t = k / fps
            active = [task.steps[s.step].label for s in v.segments if s.start <= t < s.end]
            frames.append(active[0] if active else "background")
        transcript = [task.steps[s.step].label for s in v.segments]
        for sub, lines in (("groundTruth", frames), ("transcript", transcript)):
            _write_text(os.path.join(folder, sub, f"{v.video_id}.txt"), "\n".join(lines) + "\n")
