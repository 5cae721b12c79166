"""The ingestion adapters on the files `eao.demo.formats` writes for a planned demo world (no
video is rendered), so reader and writer cannot drift apart."""

import math
from pathlib import Path

import pytest
import yaml
from ingest_files import videos_csv

from eao.demo import formats
from eao.demo.world import DemoConfig, plan_world
from eao.ingest.crosstask import (
    crosstask_annotations,
    crosstask_intervals_per_step,
    crosstask_test_videos,
    ground_truth,
    read_crosstask_tasks,
)
from eao.ingest.manifest import build
from eao.ingest.mining_youtube import mining_annotations, read_mining_videos
from eao.ingest.msrvtt import read_msrvtt_test_list, read_msrvtt_train_list
from eao.ingest.youcook2 import read_youcook2_val_clips

TINY = DemoConfig.from_config(
    yaml.safe_load((Path(__file__).parent / "configs" / "tiny.yaml").read_text())["demo"]
)

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
        assert lines == [
            (s.step + 1, pytest.approx(s.start), pytest.approx(s.end)) for s in v.segments
        ]
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
