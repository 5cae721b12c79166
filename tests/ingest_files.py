"""Helpers of the ingestion tests: small files in the public formats, and the error check."""

from __future__ import annotations

import csv
from contextlib import contextmanager
from pathlib import Path

import pytest

from eao.ingest.readers import ManifestError

TASKS = (
    "16815\nJack Up a Car\nhttps://www.wikihow.com/Jack-Up-a-Car\n3\n"
    "brake on,place jack,raise jack\n\n"
    "23521\nMake Jello Shots\nhttps://www.wikihow.com/Make-Jello-Shots\n2\n"
    "pour water, stir mixture\n\n"
)

SRT = (
    "1\n00:00:07,000 --> 00:00:12,500\ncrack_eggs\n\n"
    "2\n00:00:12,500 --> 00:00:20,040\nbeat_mixture\n\n"
    "3\n01:02:03,004 --> 01:02:05,000\npour_egg_whites\n\n"
    "4\n01:02:06,000 --> 01:02:09,000\nbeat_mixture\n"
)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_bytes(text.encode("utf-8"))
    else:
        path.write_bytes(text)
    return path


@contextmanager
def raises_naming(path: Path, *needles: str):
    """A ManifestError whose message names `path` and contains every needle."""
    with pytest.raises(ManifestError) as info:
        yield info
    msg = str(info.value)
    assert str(path) in msg, msg
    for needle in needles:
        assert needle in msg, (needle, msg)


def make_release(folder: Path) -> Path:
    """A CrossTask release: two primary tasks, a related-task video, a val video, one video
    without annotation file, one video listed under both primary tasks."""
    write(folder / "tasks_primary.txt", TASKS)
    url = "https://www.youtube.com/watch?v="
    videos = [
        ("16815", "v1"),
        ("16815", "v2"),
        ("23521", "v3"),
        ("99999", "rel"),
        ("23521", "noann"),
        ("23521", "v1"),
        ("16815", "val1"),
    ]
    write(folder / "videos.csv", "".join(f"{t},{v},{url}{v}\n" for t, v in videos))
    write(folder / "videos_val.csv", f"16815,val1,{url}val1\n")
    annotations = {
        "16815_v1": "1,0.5,2.5\n3,4,6.2\n",
        "16815_v2": "2,1,3\n2,5,7\n",
        "23521_v3": "2,0,1\n",
        "99999_rel": "1,0,1\n",
        "23521_v1": "1,0,1\n",
        "16815_val1": "1,1,2\n",
    }
    for name, text in annotations.items():
        write(folder / "annotations" / f"{name}.csv", text)
    return folder


def videos_csv(path: Path, ids: list[str], splits: dict[str, str] | None = None) -> Path:
    splits = splits or {}
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["video_id", "path", "split"])
        writer.writerows([v, f"videos/{v}.mp4", splits.get(v, "")] for v in ids)
    return path
