"""eao.ingest.crosstask: CrossTask's release files as distributed (BOM, CRLF, header-less CSVs),
malformed ones named by file and line, the test set, and the ground truth against CrossTask's
own `read_assignment`."""

import logging
import math
from pathlib import Path

import numpy as np
import pytest
from ingest_files import TASKS, make_release, raises_naming, write

from eao.ingest.crosstask import (
    CrossTaskTask,
    crosstask_annotations,
    crosstask_intervals_per_step,
    crosstask_test_videos,
    ground_truth,
    read_crosstask_annotation,
    read_crosstask_tasks,
    read_crosstask_videos,
)

# --- CrossTask: tasks_primary.txt ---------------------------------------------------------------


def test_read_crosstask_tasks(tmp_path):
    tasks = read_crosstask_tasks(str(write(tmp_path / "tasks_primary.txt", TASKS)))
    assert list(tasks) == ["16815", "23521"]
    assert tasks["16815"] == CrossTaskTask(
        "16815",
        "Jack Up a Car",
        "https://www.wikihow.com/Jack-Up-a-Car",
        ("brake on", "place jack", "raise jack"),
    )
    assert tasks["23521"].steps == ("pour water", "stir mixture")  # spaces after commas dropped
    assert tasks["23521"].n_steps == 2


def test_tasks_with_bom_crlf_no_final_blank_line_and_extra_blank_lines(tmp_path):
    text = "\ufeff" + TASKS.rstrip("\n").replace("\n\n", "\n\n\n").replace("\n", "\r\n")
    tasks = read_crosstask_tasks(str(write(tmp_path / "tasks_primary.txt", text)))
    assert list(tasks) == ["16815", "23521"]
    assert tasks["16815"].steps[-1] == "raise jack"


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (TASKS.replace("\n3\n", "\n4\n"), ["line 5", "announces 4 steps", "lists 3 step names"]),
        (TASKS.replace("\n2\n", "\n1\n"), ["line 11", "announces 1 steps", "lists 2"]),
        (TASKS.replace("3\nbrake", "three\nbrake"), ["line 4", "'three' is not an integer"]),
        (TASKS.replace("Jack Up a Car\n", ""), ["line 1", "4 lines, expected 5"]),
        (TASKS.replace("\n\n23521", "\n23521"), ["line 1", "10 lines, expected 5"]),
        (TASKS.replace("brake on,", "brake on,,"), ["line 5", "announces 3", "lists 4"]),
        (TASKS + TASKS[:60], ["line 13", "lines, expected 5"]),
        (TASKS + TASKS, ["line 13", "task 16815 is listed twice"]),
        ("\n\n", ["no task blocks"]),
    ],
    ids=[
        "count-too-high",
        "count-too-low",
        "count-not-int",
        "missing-line",
        "no-blank-line",
        "empty-step",
        "truncated",
        "duplicate",
        "empty",
    ],
)
def test_bad_tasks_primary(tmp_path, text, needles):
    path = write(tmp_path / "tasks_primary.txt", text)
    with raises_naming(path, *needles):
        read_crosstask_tasks(str(path))


def test_missing_and_non_utf8_files_are_manifest_errors(tmp_path):
    missing = tmp_path / "nope" / "tasks_primary.txt"
    with raises_naming(missing, "cannot read"):
        read_crosstask_tasks(str(missing))
    bad = write(tmp_path / "tasks_primary.txt", TASKS.encode() + b"1\nT\xe9l\xe9\n")
    with raises_naming(bad, "line 14", "not UTF-8"):
        read_crosstask_tasks(str(bad))


# --- CrossTask: videos.csv, test lists, annotation csvs -----------------------------------------


def test_read_crosstask_videos_headerless_with_urls(tmp_path):
    path = write(
        tmp_path / "videos.csv",
        "16815,abc-_123XYZ,https://www.youtube.com/watch?v=abc-_123XYZ\r\n"
        "23521,zzz,https://www.youtube.com/watch?v=zzz\r\n\r\n"
        "16815,abc-_123XYZ,https://www.youtube.com/watch?v=abc-_123XYZ\r\n",
    )
    assert read_crosstask_videos(str(path)) == [("16815", "abc-_123XYZ"), ("23521", "zzz")]


@pytest.mark.parametrize(
    "text",
    [
        "task,video_id\n16815,v1\n23521,v2\n",
        "\ufeffvideo_id,path,task\nv1,x.mp4,16815\nv2,y.mp4,23521\n",
        "task_id,video\n16815,v1\n23521,v2\n",
        "16815,v1\n23521,v2\n",
    ],
    ids=["task-video", "cvpr19-style", "task_id-video", "no-header"],
)
def test_read_crosstask_test_list_forms(tmp_path, text):
    path = write(tmp_path / "list.csv", text)
    assert read_crosstask_videos(str(path)) == [("16815", "v1"), ("23521", "v2")]


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("16815\n", ["line 1", "expected task_id,video_id"]),
        ("16815,v1\n,v2,url\n", ["line 2", "empty task or video id"]),
        ("task,path\n16815,v1\n", ["need task and video_id columns"]),
        ("video_id,path\nv1,x.mp4\n", ["need task and video_id columns"]),
        (b"16815,v1\n16815,\xff\n", ["line 2", "not UTF-8"]),
    ],
    ids=["one-field", "empty-task", "no-video-column", "no-task-column", "not-utf8"],
)
def test_bad_crosstask_videos(tmp_path, text, needles):
    path = write(tmp_path / "videos.csv", text)
    with raises_naming(path, *needles):
        read_crosstask_videos(str(path))


def test_read_crosstask_annotation(tmp_path):
    path = write(tmp_path / "a.csv", "1,20.77,26.31\n3,0,4\n1,30.5,31.25\n\n")
    assert read_crosstask_annotation(str(path), n_steps=3) == [
        (1, 20.77, 26.31),
        (3, 0.0, 4.0),
        (1, 30.5, 31.25),
    ]
    assert read_crosstask_annotation(str(write(tmp_path / "empty.csv", ""))) == []


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("1,2,3\n4,5,6\n", ["line 2", "step 4 out of range", "1..3"]),
        ("0,2,3\n", ["line 1", "step 0 out of range"]),
        ("x,2,3\n", ["line 1", "step 'x' is not an integer"]),
        ("1,5,3\n", ["line 1", "bad times start=5.0 end=3.0"]),
        ("1,-1,3\n", ["line 1", "bad times"]),
        ("1,2,abc\n", ["line 1", "end 'abc' is not a number"]),
        ("1,nan,3\n", ["line 1", "start 'nan' is not a finite number"]),
        ("1,2\n", ["line 1", "2 fields, expected step,start,end"]),
        ("1,2,3,4\n", ["line 1", "4 fields"]),
        (b"1,2,3\n2,\xff,4\n", ["line 2", "not UTF-8"]),
    ],
    ids=[
        "step-too-high",
        "step-zero",
        "step-text",
        "end-before-start",
        "negative",
        "not-number",
        "nan",
        "too-few-fields",
        "too-many-fields",
        "not-utf8",
    ],
)
def test_bad_crosstask_annotation(tmp_path, text, needles):
    path = write(tmp_path / "annotations" / "16815_v1.csv", text)
    with raises_naming(path, *needles):
        read_crosstask_annotation(str(path), n_steps=3)


def test_crosstask_test_videos_default_and_switches(tmp_path, caplog):
    rel = str(make_release(tmp_path / "crosstask_release"))
    with caplog.at_level(logging.WARNING):
        default = crosstask_test_videos(rel)
    # primary tasks only, annotation file required, a video's first task only
    assert default == [("16815", "v1"), ("16815", "v2"), ("23521", "v3"), ("16815", "val1")]
    assert "video v1 is listed for tasks 16815 and 23521" in caplog.text
    assert crosstask_test_videos(rel, exclude_val=True) == default[:3]
    listed = write(tmp_path / "cvpr19_test.csv", "task,video_id\n23521,v3\n16815,gone\n")
    assert crosstask_test_videos(rel, test_list=str(listed)) == [("23521", "v3"), ("16815", "gone")]
    bad = write(tmp_path / "bad_list.csv", "99999,rel\n")
    with raises_naming(bad, "['99999']", "not in tasks_primary.txt"):
        crosstask_test_videos(rel, test_list=str(bad))


def test_crosstask_annotations_and_ground_truth(tmp_path):
    rel = str(make_release(tmp_path / "crosstask_release"))
    ann = crosstask_annotations(rel)
    assert list(ann) == ["v1", "v2", "v3", "val1"]
    task, lines = ann["v2"]
    assert (task, lines) == ("16815", [(2, 1.0, 3.0), (2, 5.0, 7.0)])
    per_step = crosstask_intervals_per_step(lines, 3)
    assert per_step == [[], [(1.0, 3.0), (5.0, 7.0)], []]
    y = ground_truth(per_step, 8)
    assert y[:, 1].tolist() == [0, 1, 1, 0, 0, 1, 1, 0] and y[:, [0, 2]].sum() == 0
    # an explicit list; a pair without annotation file is left out
    assert list(crosstask_annotations(rel, [("23521", "v3"), ("16815", "gone")])) == ["v3"]
    with pytest.raises(TypeError, match="pairs"):
        crosstask_annotations(rel, ["v3"])
    # step numbers are checked against the task's K
    write(Path(rel) / "annotations" / "23521_v3.csv", "3,0,1\n")
    with raises_naming(Path(rel) / "annotations" / "23521_v3.csv", "step 3 out of range", "1..2"):
        crosstask_annotations(rel)


# --- ground truth -------------------------------------------------------------------------------


def reference_read_assignment(n_frames: int, lines: list[tuple[int, float, float]], k: int):
    """CrossTask data.py read_assignment, on parsed lines."""
    y = np.zeros([n_frames, k], dtype=np.uint8)
    for step, start, end in lines:
        y[int(math.floor(start)) : int(math.ceil(end)), step - 1] = 1
    return y


def test_ground_truth_floor_ceil_clip_and_repeats():
    y = ground_truth([[(1.2, 3.5)], [(0.0, 0.0), (2.0, 2.0)], [(4.0, 6.0), (8.5, 99.0)], []], 10)
    assert y.dtype == np.uint8 and y.shape == (10, 4)
    assert np.flatnonzero(y[:, 0]).tolist() == [1, 2, 3]  # floor(1.2)=1 .. ceil(3.5)-1=3
    assert y[:, 1].sum() == 0  # zero-length intervals on a whole second cover no frame
    assert np.flatnonzero(y[:, 2]).tolist() == [4, 5, 8, 9]  # repeated step, end clipped at T
    assert y[:, 3].sum() == 0
    assert ground_truth([[(12.0, 15.0)]], 10).sum() == 0  # past the end
    assert ground_truth([[(0.0, 1.0)]], 0).shape == (0, 1)
    assert ground_truth([], 5).shape == (5, 0)
    with pytest.raises(ValueError):
        ground_truth([], -1)


def test_ground_truth_matches_crosstask_read_assignment():
    rng = np.random.default_rng(0)
    for _ in range(200):
        k, n_frames = int(rng.integers(1, 6)), int(rng.integers(1, 40))
        lines = []
        for _ in range(int(rng.integers(0, 8))):
            start = float(np.round(rng.uniform(0, 45), int(rng.integers(0, 3))))
            lines.append((int(rng.integers(1, k + 1)), start, start + float(rng.uniform(0, 9))))
        ours = ground_truth(crosstask_intervals_per_step(lines, k), n_frames)
        assert np.array_equal(ours, reference_read_assignment(n_frames, lines, k))
