"""eao.ingest (public benchmark files) and the benchmark adapters of eao.ingest.captions.

Small files in each public format are written here, with the quirks real downloads have (BOM,
CRLF, header-less CSVs, srt times with '.'), plus malformed ones whose error must name the file,
the line and the problem. The last part runs the adapters on the files `eao.demo.formats` writes
for a planned demo world (no video is rendered), so reader and writer cannot drift apart.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from eao.demo import formats
from eao.demo.world import DemoConfig, plan_world
from eao.errors import run
from eao.ingest.captions import CAPTION_FORMATS, read_captions
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
from eao.ingest.manifest import ManifestError, build, main
from eao.ingest.mining_youtube import mining_annotations, mining_steps, read_mining_videos, read_srt
from eao.ingest.msrvtt import read_msrvtt_test_list, read_msrvtt_train_list
from eao.ingest.youcook2 import read_youcook2_val_clips, youcook2_splits
from eao.io.parquet import CAPTIONS

TINY = DemoConfig.from_config(
    yaml.safe_load((Path(__file__).parent / "configs" / "tiny.yaml").read_text())["demo"]
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


# --- CrossTask: tasks_primary.txt ---------------------------------------------------------------

TASKS = (
    "16815\nJack Up a Car\nhttps://www.wikihow.com/Jack-Up-a-Car\n3\n"
    "brake on,place jack,raise jack\n\n"
    "23521\nMake Jello Shots\nhttps://www.wikihow.com/Make-Jello-Shots\n2\n"
    "pour water, stir mixture\n\n"
)


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
        "count-too-high", "count-too-low", "count-not-int", "missing-line", "no-blank-line",
        "empty-step", "truncated", "duplicate", "empty",
    ],
)  # fmt: skip
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
        "step-too-high", "step-zero", "step-text", "end-before-start", "negative", "not-number",
        "nan", "too-few-fields", "too-many-fields", "not-utf8",
    ],
)  # fmt: skip
def test_bad_crosstask_annotation(tmp_path, text, needles):
    path = write(tmp_path / "annotations" / "16815_v1.csv", text)
    with raises_naming(path, *needles):
        read_crosstask_annotation(str(path), n_steps=3)


def make_release(folder: Path) -> Path:
    """A CrossTask release: two primary tasks, a related-task video, a val video, one video
    without annotation file, one video listed under both primary tasks."""
    write(folder / "tasks_primary.txt", TASKS)
    url = "https://www.youtube.com/watch?v="
    videos = [
        ("16815", "v1"), ("16815", "v2"), ("23521", "v3"), ("99999", "rel"),
        ("23521", "noann"), ("23521", "v1"), ("16815", "val1"),
    ]  # fmt: skip
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


# --- Mining YouTube -----------------------------------------------------------------------------

SRT = (
    "1\n00:00:07,000 --> 00:00:12,500\ncrack_eggs\n\n"
    "2\n00:00:12,500 --> 00:00:20,040\nbeat_mixture\n\n"
    "3\n01:02:03,004 --> 01:02:05,000\npour_egg_whites\n\n"
    "4\n01:02:06,000 --> 01:02:09,000\nbeat_mixture\n"
)
SEGMENTS = [
    ("crack_eggs", 7.0, 12.5),
    ("beat_mixture", 12.5, 20.04),
    ("pour_egg_whites", 3723.004, 3725.0),
    ("beat_mixture", 3726.0, 3729.0),
]


def approx_segments(segments):
    return [(label, pytest.approx(s), pytest.approx(e)) for label, s, e in segments]


@pytest.mark.parametrize(
    "variant",
    ["plain", "crlf-bom-trailing", "dot-millis", "no-numbers", "short-millis"],
)
def test_read_srt_variants(tmp_path, variant):
    text = SRT
    if variant == "crlf-bom-trailing":
        text = "\ufeff" + SRT.replace("\n", "\r\n") + "\r\n\r\n\r\n"
    elif variant == "dot-millis":
        text = SRT.replace(",", ".")
    elif variant == "no-numbers":
        text = "\n\n".join(b.split("\n", 1)[1] for b in SRT.split("\n\n"))
    elif variant == "short-millis":
        text = SRT.replace(",500", ",5").replace(",040", ",04")
    path = write(tmp_path / "vid.srt", text)
    assert read_srt(str(path)) == approx_segments(SEGMENTS)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (SRT + "\n5\n01:03:00,000 --> 01:03:01,000\n", ["line 18", "truncated block"]),
        (SRT + "\n5\n", ["line 17", "truncated block 5 (no time line)"]),
        (SRT.replace("00:00:12,500 --> 00:00:20,040", "00:00:12 500 -> 00:00:20"),
         ["line 6", "bad time line"]),
        (SRT.replace("00:00:12,500 --> 00:00:20,040", "00:00:20,040 --> 00:00:12,500"),
         ["line 6", "end 12.5 is before start 20.04"]),
        (SRT.replace("crack_eggs\n\n", "crack_eggs\n"), ["line 2", "4 label lines"]),
        (SRT.replace("3\n01:02:03", "three\n01:02:03"), ["line 9", "expected a block number"]),
        (SRT.replace("00:00:07,000", "00:61:07,000"), ["line 2", "bad time line"]),
        (SRT.encode() + b"\n5\n01:03:00,000 --> 01:03:01,000\n\xe9uf\n", ["line 19", "not UTF-8"]),
    ],
    ids=[
        "no-label", "no-time-line", "bad-arrow", "end-before-start", "missing-blank-line",
        "bad-number", "minutes-over-59", "not-utf8",
    ],
)  # fmt: skip
def test_bad_srt(tmp_path, text, needles):
    path = write(tmp_path / "annotations" / "vid.srt", text)
    with raises_naming(path, *needles):
        read_srt(str(path))


def test_mining_steps_occurrences_and_unique():
    texts, intervals = mining_steps(SEGMENTS)
    assert texts == ["crack eggs", "beat mixture", "pour egg whites", "beat mixture"]
    assert intervals == [[(7.0, 12.5)], [(12.5, 20.04)], [(3723.004, 3725.0)], [(3726.0, 3729.0)]]
    texts, intervals = mining_steps(SEGMENTS, mode="unique")
    assert texts == ["crack eggs", "beat mixture", "pour egg whites"]
    assert intervals == [[(7.0, 12.5)], [(12.5, 20.04), (3726.0, 3729.0)], [(3723.004, 3725.0)]]
    assert mining_steps([]) == ([], [])
    with pytest.raises(ValueError, match="'occurrences' or 'unique'"):
        mining_steps(SEGMENTS, mode="background")


def test_read_mining_videos(tmp_path):
    text = "\ufeff-1okAudsnAc\r\nabc_DEF-123\r\n\r\n-1okAudsnAc\n"
    path = write(tmp_path / "videos_test.txt", text)
    assert read_mining_videos(str(path)) == ["-1okAudsnAc", "abc_DEF-123"]
    bad = write(tmp_path / "videos_val.txt", "a\nb c\n")
    with raises_naming(bad, "line 2", "expected one video id"):
        read_mining_videos(str(bad))


def test_mining_annotations(tmp_path):
    write(tmp_path / "videos_test.txt", "v1\nv2\nno_srt\n")
    write(tmp_path / "annotations" / "v1.srt", SRT)
    write(tmp_path / "annotations" / "v2.srt", SRT.split("\n\n")[0] + "\n")
    write(tmp_path / "annotations" / "extra.srt", SRT)
    ann = mining_annotations(str(tmp_path))
    assert list(ann) == ["v1", "v2"]  # videos_test.txt decides; a missing srt is left out
    assert ann["v1"] == approx_segments(SEGMENTS)
    assert ann["v2"] == [("crack_eggs", 7.0, 12.5)]
    assert list(mining_annotations(str(tmp_path), ["extra", "gone"])) == ["extra"]


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


# --- YouCook2 and MSR-VTT lists -----------------------------------------------------------------


def test_read_youcook2_val_clips_mil_nce_layout(tmp_path):
    path = write(
        tmp_path / "validation_youcook.csv",
        "\ufeffend,start,task,text,video_id\r\n"
        '25,12,113,"add oil, then the onions",xHr8X2Wpmno\r\n'
        "40,31,113,stir,xHr8X2Wpmno\r\n",
    )
    clips = read_youcook2_val_clips(str(path))
    assert clips == [
        dict(video_id="xHr8X2Wpmno", start=12.0, end=25.0, task="113",
             text="add oil, then the onions"),
        dict(video_id="xHr8X2Wpmno", start=31.0, end=40.0, task="113", text="stir"),
    ]  # fmt: skip
    no_task = write(tmp_path / "val_clips.csv", "video_id,start,end,text\nv,0,3,hi\n")
    assert read_youcook2_val_clips(str(no_task))[0]["task"] is None


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("end,start,task,video_id\n3,1,5,v\n", ["no column text"]),
        ("end,start,text,video_id\n1,3,a,v\n", ["line 2", "bad times start=3.0 end=1.0"]),
        ("end,start,text,video_id\nx,3,a,v\n", ["line 2", "end 'x' is not a number"]),
        ("end,start,text,video_id\n3,1,a\n", ["line 2", "3 fields but the header has 4"]),
        ("", ["empty file"]),
    ],
    ids=["missing-column", "end-before-start", "not-number", "short-row", "empty"],
)
def test_bad_youcook2_val_clips(tmp_path, text, needles):
    path = write(tmp_path / "val_clips.csv", text)
    with raises_naming(path, *needles):
        read_youcook2_val_clips(str(path))


def test_youcook2_splits(tmp_path):
    path = write(
        tmp_path / "y.json",
        '{"database": {"a": {"subset": "training"}, "b": {"subset": "validation"}}}',
    )
    assert youcook2_splits(str(path)) == {"a": "training", "b": "validation"}
    bad = write(tmp_path / "bad.json", '{"database": {"a": {"segments": []}}}')
    with raises_naming(bad, "not a YouCook2 annotation file"):
        youcook2_splits(str(bad))
    broken = write(tmp_path / "broken.json", '{"database":\n {')
    with raises_naming(broken, "line 2", "not a JSON file"):
        youcook2_splits(str(broken))


def test_msrvtt_lists(tmp_path):
    test = write(
        tmp_path / "MSRVTT_JSFUSION_test.csv",
        'key,vid_key,video_id,sentence\nret0,msr9770,video9770,"a person, cooking"\n'
        "ret1,msr7010,video7010,a cat\n",
    )
    assert read_msrvtt_test_list(str(test)) == {
        "video9770": "a person, cooking",
        "video7010": "a cat",
    }
    dup = write(tmp_path / "dup.csv", "video_id,sentence\nvideo1,a\nvideo1,b\n")
    with raises_naming(dup, "line 3", "video video1 is listed twice"):
        read_msrvtt_test_list(str(dup))
    no_col = write(tmp_path / "nocol.csv", "key,vid_key,video_id\nret0,msr1,video1\n")
    with raises_naming(no_col, "no column sentence"):
        read_msrvtt_test_list(str(no_col))
    train = write(tmp_path / "MSRVTT_train.7k.csv", "video_id\r\nvideo0\r\nvideo1\r\n")
    assert read_msrvtt_train_list(str(train)) == ["video0", "video1"]
    headerless = write(tmp_path / "t.csv", "video0\nvideo1\nvideo0\n")
    assert read_msrvtt_train_list(str(headerless)) == ["video0", "video1"]
    wrong = write(tmp_path / "w.csv", "id\nvideo0\n")
    with raises_naming(wrong, "no column video_id"):
        read_msrvtt_train_list(str(wrong))


# --- manifest adapters --------------------------------------------------------------------------


def videos_csv(path: Path, ids: list[str], splits: dict[str, str] | None = None) -> Path:
    splits = splits or {}
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["video_id", "path", "split"])
        writer.writerows([v, f"videos/{v}.mp4", splits.get(v, "")] for v in ids)
    return path


def test_caption_formats_include_the_benchmarks():
    assert {"crosstask", "mining_youtube"} <= set(CAPTION_FORMATS)


def test_crosstask_captions_and_splits(tmp_path):
    rel = make_release(tmp_path / "crosstask_release")
    csv_path = videos_csv(tmp_path / "videos.csv", ["v1", "v3", "val1", "rel", "other", "v2"],
                          {"v2": "mine"})  # fmt: skip
    rows, captions, failures = build(
        str(csv_path), str(tmp_path), "crosstask", 4, str(rel / "tasks_primary.txt"), "crosstask"
    )
    assert failures == []
    by_video: dict[str, list] = {}
    for c in captions:
        assert c["start_s"] == c["end_s"] == 0.0  # queries, not timed captions
        by_video.setdefault(c["video_id"], []).append((c["segment"], c["text"]))
    assert by_video == {
        "v1": [(0, "brake on"), (1, "place jack"), (2, "raise jack")],  # first task wins
        "v3": [(0, "pour water"), (1, "stir mixture")],
        "val1": [(0, "brake on"), (1, "place jack"), (2, "raise jack")],
        "v2": [(0, "brake on"), (1, "place jack"), (2, "raise jack")],
    }  # 'rel' (related task) and 'other' (not listed) get no rows
    splits = {r["video_id"]: r["split"] for r in rows}
    assert splits == {"v1": "test", "v3": "test", "val1": "val", "rel": "test", "other": None,
                      "v2": "mine"}  # fmt: skip


def test_mining_youtube_captions_and_splits(tmp_path):
    folder = tmp_path / "mining_youtube"
    write(folder / "weakYouTube_dict.txt", "beat_mixture\ncrack_eggs\nbackground\n")
    write(folder / "videos_test.txt", "v1\nv2\nv3\n")
    write(folder / "videos_val.txt", "v2\n")
    write(folder / "annotations" / "v1.srt", SRT)
    write(folder / "annotations" / "v2.srt", SRT.split("\n\n")[1] + "\n")
    csv_path = videos_csv(tmp_path / "videos.csv", ["v1", "v2", "v3", "x"])
    rows, captions, failures = build(
        str(csv_path), str(folder), "myt", 8, str(folder / "weakYouTube_dict.txt"), "mining_youtube"
    )
    assert failures == []
    got = [(c["video_id"], c["segment"], c["text"], c["start_s"], c["end_s"]) for c in captions]
    assert got == [
        ("v1", 0, "crack eggs", 7.0, 12.5),
        ("v1", 1, "beat mixture", 12.5, pytest.approx(20.04)),
        ("v1", 2, "pour egg whites", pytest.approx(3723.004), 3725.0),
        ("v1", 3, "beat mixture", 3726.0, 3729.0),  # a repeat is its own occurrence
        ("v2", 0, "beat mixture", 12.5, pytest.approx(20.04)),
    ]
    assert {r["video_id"]: r["split"] for r in rows} == {
        "v1": "test", "v2": "val", "v3": "test", "x": None,
    }  # fmt: skip


def test_malformed_benchmark_file_stops_the_manifest(tmp_path):
    folder = tmp_path / "mining_youtube"
    write(folder / "weakYouTube_dict.txt", "background\n")
    bad = write(folder / "annotations" / "v1.srt", "1\n00:00:01,000 --> 00:00:02,000\n")
    csv_path = videos_csv(tmp_path / "videos.csv", ["v1"])
    with raises_naming(bad, "truncated block"):
        build(str(csv_path), str(folder), "myt", 8, str(folder / "weakYouTube_dict.txt"),
              "mining_youtube")  # fmt: skip


def msrvtt_files(folder: Path, with_lists: bool = True) -> Path:
    data = {
        "videos": [
            {"video_id": f"video{i}", "start time": 0.0, "end time": 10.0 + i} for i in range(4)
        ],
        "sentences": [
            {"video_id": "video0", "sen_id": 0, "caption": "a dog runs"},
            {"video_id": "video0", "sen_id": 1, "caption": "a man cooks"},
            {"video_id": "video0", "sen_id": 2, "caption": "someone sings"},
            {"video_id": "video1", "sen_id": 3, "caption": "cars race"},
            {"video_id": "video2", "sen_id": 4, "caption": "kids play"},
        ],
    }
    write(folder / "MSRVTT_data.json", json.dumps(data))
    if with_lists:
        write(
            folder / "MSRVTT_JSFUSION_test.csv",
            "key,vid_key,video_id,sentence\n"
            "ret0,msr0,video0,A  man cooks\n"  # among the captions (case, spaces differ)
            "ret1,msr1,video1,a red car wins\n"  # not among them: inserted
            "ret2,msr3,video3,an empty room\n",  # no captions at all
        )
        write(folder / "MSRVTT_train.7k.csv", "video_id\nvideo2\nvideo0\n")
    return folder / "MSRVTT_data.json"


def test_msrvtt_jsfusion_sentence_is_segment_0_and_splits(tmp_path):
    data = msrvtt_files(tmp_path)
    csv_path = videos_csv(tmp_path / "videos.csv", ["video0", "video1", "video2", "video3"])
    rows, captions, failures = build(str(csv_path), str(tmp_path), "msrvtt", 8, str(data),
                                     "msrvtt")  # fmt: skip
    assert failures == []
    got = [(c["video_id"], c["segment"], c["text"], c["end_s"]) for c in captions]
    assert got == [
        ("video0", 0, "A  man cooks", 10.0),
        ("video0", 1, "a dog runs", 10.0),
        ("video0", 2, "someone sings", 10.0),
        ("video1", 0, "a red car wins", 11.0),
        ("video1", 1, "cars race", 11.0),
        ("video2", 0, "kids play", 12.0),
        ("video3", 0, "an empty room", 13.0),
    ]
    # test wins over train (video0 is in both lists)
    assert [r["split"] for r in rows] == ["test", "test", "train", "test"]


def test_msrvtt_without_lists_keeps_caption_order_and_no_split(tmp_path):
    data = msrvtt_files(tmp_path, with_lists=False)
    csv_path = videos_csv(tmp_path / "videos.csv", ["video0", "video3"])
    rows, captions, _ = build(str(csv_path), str(tmp_path), "msrvtt", 8, str(data), "msrvtt")
    assert [c["text"] for c in captions] == ["a dog runs", "a man cooks", "someone sings"]
    assert [r["split"] for r in rows] == [None, None]


def test_youcook2_splits_fill_only_empty_cells(tmp_path):
    path = write(
        tmp_path / "youcookii_annotations_trainval.json",
        '{"database": {"a": {"subset": "training", "annotations": []},'
        ' "b": {"subset": "validation", "annotations": [{"segment": [1, 4], "sentence": "s"}]}}}',
    )
    csv_path = videos_csv(tmp_path / "videos.csv", ["a", "b", "c"], {"a": "validation"})
    rows, captions, _ = build(str(csv_path), str(tmp_path), "yc2", 8, str(path), "youcook2")
    assert [r["split"] for r in rows] == ["validation", "validation", None]
    assert [(c["video_id"], c["start_s"], c["end_s"]) for c in captions] == [("b", 1.0, 4.0)]


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ManifestError, match="unknown captions format"):
        read_captions(str(tmp_path / "x"), [], "nope")


def test_cli_accepts_the_benchmark_formats(tmp_path, capsys):
    rel = make_release(tmp_path / "crosstask_release")
    csv_path = videos_csv(tmp_path / "videos.csv", ["v1", "v2"])
    out = tmp_path / "out"
    argv = [
        "--dataset", "crosstask", "--videos", str(csv_path), "--root", str(tmp_path),
        "--captions", str(rel / "tasks_primary.txt"), "--captions-format", "crosstask",
        "--shard-size", "1", "--out-manifest", str(out / "m.parquet"),
        "--out-captions", str(out / "c.parquet"), "--out-failures", str(out / "f.parquet"),
    ]  # fmt: skip
    assert main(argv) == 0
    captions = pq.read_table(out / "c.parquet")
    assert captions.schema.remove_metadata() == CAPTIONS
    assert captions.num_rows == 6
    assert [r["split"] for r in pq.read_table(out / "m.parquet").to_pylist()] == ["test", "test"]
    assert "6 caption segments for 2 videos" in capsys.readouterr().out
    (rel / "tasks_primary.txt").write_text(TASKS.replace("\n3\n", "\n4\n"), encoding="utf-8")
    assert run(main, argv, "eao manifest") == 2
    err = capsys.readouterr().err
    assert "eao manifest: error: dataset crosstask" in err and "tasks_primary.txt, line 5" in err


# --- the demo world's files ---------------------------------------------------------------------


@pytest.fixture(scope="module", params=[TINY, DemoConfig()], ids=["tiny", "default"])
def demo(request, tmp_path_factory):
    """The benchmark files of a planned demo world, written by eao.demo.formats (no videos)."""
    cfg = request.param
    world = plan_world(cfg)
    out = tmp_path_factory.mktemp("demo_formats")
    formats.write_youcook2(str(out / "youcook2"), world)
    formats.write_msrvtt(str(out / "msrvtt"), world)
    formats.write_crosstask(str(out / "crosstask"), world)
    formats.write_mining_youtube(str(out / "mining_youtube"), world, cfg.fps)
    for ds in ("youcook2", "msrvtt", "crosstask", "mining_youtube"):
        formats.write_videos_csv(str(out / ds), world.videos[ds])
        # the same videos without the split column: the splits must come from the annotations
        videos_csv(out / ds / "videos_nosplit.csv", [v.video_id for v in world.videos[ds]])
    return world, out


def build_demo(out: Path, ds: str, captions: str, fmt: str, csv_name: str = "videos.csv"):
    return build(str(out / ds / csv_name), str(out / ds), ds, 3, str(out / ds / captions), fmt)


@pytest.mark.parametrize("csv_name", ["videos.csv", "videos_nosplit.csv"])
def test_demo_crosstask(demo, csv_name):
    world, out = demo
    rows, captions, failures = build_demo(
        out, "crosstask", "crosstask_release/tasks_primary.txt", "crosstask", csv_name
    )
    assert failures == []
    assert [r["split"] for r in rows] == [v.split for v in world.videos["crosstask"]]
    expected = [
        (v.video_id, k, step.name)
        for v in world.videos["crosstask"]
        for k, step in enumerate(world.tasks[v.task].steps)
    ]
    assert [(c["video_id"], c["segment"], c["text"]) for c in captions] == expected
    release = str(out / "crosstask" / "crosstask_release")
    pairs = [(world.tasks[v.task].task_id, v.video_id) for v in world.videos["crosstask"]]
    assert sorted(crosstask_test_videos(release)) == sorted(pairs)
    not_val = [p for p, v in zip(pairs, world.videos["crosstask"], strict=True) if v.split != "val"]
    assert crosstask_test_videos(release, exclude_val=True) == not_val
    ann = crosstask_annotations(release)
    tasks = read_crosstask_tasks(release + "/tasks_primary.txt")
    for v in world.videos["crosstask"]:
        task = world.tasks[v.task]
        assert tasks[task.task_id].steps == tuple(s.name for s in task.steps)
        got_task, lines = ann[v.video_id]
        assert got_task == task.task_id
        assert lines == [(s.step + 1, pytest.approx(s.start), pytest.approx(s.end))
                         for s in v.segments]  # fmt: skip
        n_frames = math.ceil(v.duration)
        y = ground_truth(crosstask_intervals_per_step(lines, len(task.steps)), n_frames)
        for s in v.segments:
            assert y[math.floor(s.start) : math.ceil(s.end), s.step].all()


@pytest.mark.parametrize("csv_name", ["videos.csv", "videos_nosplit.csv"])
def test_demo_mining_youtube(demo, csv_name):
    world, out = demo
    rows, captions, failures = build_demo(
        out, "mining_youtube", "weakYouTube_dict.txt", "mining_youtube", csv_name
    )
    assert failures == []
    assert [r["split"] for r in rows] == [v.split for v in world.videos["mining_youtube"]]
    expected = [
        (v.video_id, k, world.tasks[v.task].steps[s.step].label.replace("_", " "), s.start, s.end)
        for v in world.videos["mining_youtube"]
        for k, s in enumerate(v.segments)
    ]
    got = [(c["video_id"], c["segment"], c["text"], c["start_s"], c["end_s"]) for c in captions]
    assert got == [(a, b, c, pytest.approx(d), pytest.approx(e)) for a, b, c, d, e in expected]
    ann = mining_annotations(str(out / "mining_youtube"))
    assert list(ann) == [v.video_id for v in world.videos["mining_youtube"]]
    val = read_mining_videos(str(out / "mining_youtube" / "videos_val.txt"))
    assert val == [v.video_id for v in world.videos["mining_youtube"] if v.split == "val"]


@pytest.mark.parametrize("csv_name", ["videos.csv", "videos_nosplit.csv"])
def test_demo_msrvtt(demo, csv_name):
    world, out = demo
    rows, captions, failures = build_demo(out, "msrvtt", "MSRVTT_data.json", "msrvtt", csv_name)
    assert failures == []
    assert [r["split"] for r in rows] == [v.split for v in world.videos["msrvtt"]]
    test = read_msrvtt_test_list(str(out / "msrvtt" / "MSRVTT_JSFUSION_test.csv"))
    first = {c["video_id"]: c["text"] for c in captions if c["segment"] == 0}
    assert test and all(first[vid] == sentence for vid, sentence in test.items())
    train = read_msrvtt_train_list(str(out / "msrvtt" / "MSRVTT_train.7k.csv"))
    assert train == [v.video_id for v in world.videos["msrvtt"] if v.split == "train"]
    per_video = {v.video_id: len(v.captions) for v in world.videos["msrvtt"]}
    assert len(captions) == sum(per_video.values())  # moved, never duplicated


@pytest.mark.parametrize("csv_name", ["videos.csv", "videos_nosplit.csv"])
def test_demo_youcook2(demo, csv_name):
    world, out = demo
    rows, captions, failures = build_demo(
        out, "youcook2", "youcookii_annotations_trainval.json", "youcook2", csv_name
    )
    assert failures == []
    assert [r["split"] for r in rows] == [v.split for v in world.videos["youcook2"]]
    clips = read_youcook2_val_clips(str(out / "youcook2" / "val_clips.csv"))
    expected = [
        (v.video_id, float(math.floor(s.start)), float(math.ceil(s.end)), c.text)
        for v in world.videos["youcook2"]
        if v.split == "validation"
        for s, c in zip(v.segments, v.captions, strict=True)
    ]
    assert [(c["video_id"], c["start"], c["end"], c["text"]) for c in clips] == expected
    val_ids = {v.video_id for v in world.videos["youcook2"] if v.split == "validation"}
    val_captions = [
        (c["video_id"], c["start_s"], c["end_s"], c["text"])
        for c in captions
        if c["video_id"] in val_ids
    ]
    assert val_captions == expected  # the csv and the JSON describe the same clips
