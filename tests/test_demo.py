"""The demo world: deterministic plan, real H.264/AAC files, public dataset formats."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from eao.demo.__main__ import generate
from eao.demo.world import DATASETS, DemoConfig, plan_world
from eao.io.ffmpeg import ffprobe

TINY = DemoConfig.from_config(
    yaml.safe_load((Path(__file__).parent / "configs" / "tiny.yaml").read_text())["demo"]
)


@pytest.fixture(scope="module")
def two_worlds(tmp_path_factory) -> tuple[Path, Path]:
    a, b = tmp_path_factory.mktemp("world_a"), tmp_path_factory.mktemp("world_b")
    generate(TINY, str(a), workers=2)
    generate(TINY, str(b), workers=1)
    return a, b


def decoded_frames_sha256(path: Path) -> str:
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-i",
            str(path),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert raw, f"{path} decoded to nothing"
    return hashlib.sha256(raw).hexdigest()


def test_plan_is_a_function_of_the_seed():
    assert plan_world(TINY).to_json() == plan_world(TINY).to_json()
    other = DemoConfig.from_config({**TINY.__dict__, "seed": TINY.seed + 1})
    assert plan_world(other).to_json() != plan_world(TINY).to_json()


def test_dataset_sizes_follow_the_config():
    world = plan_world(TINY)
    assert len(world.videos["howto"]) == TINY.howto_videos
    assert len(world.videos["msrvtt"]) == TINY.msrvtt_videos
    assert sum(v.corrupt for v in world.videos["howto"]) == TINY.corrupt_videos
    assert sum(not v.has_audio for v in world.videos["howto"]) == TINY.no_audio_videos
    ids = [v.video_id for ds in DATASETS for v in world.videos[ds]]
    assert len(ids) == len(set(ids))


def test_same_seed_gives_identical_annotations_and_frames(two_worlds):
    a, b = two_worlds
    text_files = sorted(
        p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.suffix != ".mp4"
    )
    assert len(text_files) > 20
    for rel in text_files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    videos = sorted(p.relative_to(a) for p in a.rglob("*.mp4"))
    world = json.loads((a / "world.json").read_text())
    corrupt = {v["video_id"] for v in world["videos"]["howto"] if v["corrupt"]}
    for rel in videos:
        if rel.stem in corrupt:
            continue
        assert decoded_frames_sha256(a / rel) == decoded_frames_sha256(b / rel), rel


def test_videos_are_h264_aac_of_the_planned_length(two_worlds):
    root, _ = two_worlds
    world = plan_world(TINY)
    for ds in DATASETS:
        for v in world.videos[ds]:
            path = root / ds / "videos" / f"{v.video_id}.mp4"
            if v.corrupt:
                continue
            info = ffprobe(str(path))
            codecs = {s["codec_type"]: s for s in info["streams"]}
            assert codecs["video"]["codec_name"] == "h264"
            assert (codecs["video"]["width"], codecs["video"]["height"]) == (
                TINY.width,
                TINY.height,
            )
            assert eval(codecs["video"]["avg_frame_rate"]) == TINY.fps  # noqa: S307 - 'a/b'
            assert float(codecs["video"]["duration"]) == pytest.approx(
                v.duration, abs=1.0 / TINY.fps
            )
            if v.has_audio:
                assert codecs["audio"]["codec_name"] == "aac"
                assert int(codecs["audio"]["sample_rate"]) == TINY.audio_rate
                assert float(codecs["audio"]["duration"]) == pytest.approx(v.duration, abs=0.1)
            else:
                assert "audio" not in codecs


def test_howto_captions_are_in_the_howto100m_layout(two_worlds):
    root, _ = two_worlds
    captions = json.loads((root / "howto" / "caption.json").read_text())
    world = plan_world(TINY)
    narrated = [v for v in world.videos["howto"] if v.captions]
    assert set(captions) == {v.video_id for v in narrated}
    for entry in captions.values():
        assert set(entry) == {"start", "end", "text"}
        assert len(entry["start"]) == len(entry["end"]) == len(entry["text"]) > 0
        assert entry["start"] == sorted(entry["start"])
        assert all(e >= s for s, e in zip(entry["start"], entry["end"], strict=True))


def test_benchmark_files_in_public_formats(two_worlds):
    root, _ = two_worlds
    world = plan_world(TINY)
    # YouCook2: annotation JSON + MIL-NCE style validation csv
    db = json.loads((root / "youcook2" / "youcookii_annotations_trainval.json").read_text())
    for entry in db["database"].values():
        assert entry["subset"] in ("training", "validation")
        for ann in entry["annotations"]:
            assert all(isinstance(x, int) for x in ann["segment"]) and ann["sentence"]
    with open(root / "youcook2" / "val_clips.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0]) == ["end", "start", "task", "text", "video_id"]
    # MSR-VTT: data json, 7k-style train list, JSFusion test list
    data = json.loads((root / "msrvtt" / "MSRVTT_data.json").read_text())
    assert len(data["sentences"]) == TINY.msrvtt_videos * TINY.msrvtt_captions_per_video
    with open(root / "msrvtt" / "MSRVTT_JSFUSION_test.csv", newline="") as f:
        test = list(csv.DictReader(f))
    assert test and list(test[0]) == ["key", "vid_key", "video_id", "sentence"]
    # CrossTask: five-line task blocks, per-video step csvs with 1-based steps
    blocks = (root / "crosstask" / "crosstask_release" / "tasks_primary.txt").read_text()
    blocks = [b.splitlines() for b in blocks.strip().split("\n\n")]
    assert len(blocks) == TINY.tasks
    for _task_id, _title, _url, n, steps in blocks:
        assert len(steps.split(",")) == int(n)
    for v in world.videos["crosstask"]:
        task_id = world.tasks[v.task].task_id
        ann = (
            root / "crosstask" / "crosstask_release" / "annotations" / f"{task_id}_{v.video_id}.csv"
        )
        lines = [line.split(",") for line in ann.read_text().splitlines()]
        assert [int(s) for s, _, _ in lines] == [seg.step + 1 for seg in v.segments]
    # Mining YouTube: srt + framewise ground truth + transcript + dictionary with background last
    labels = (root / "mining_youtube" / "weakYouTube_dict.txt").read_text().split()
    assert labels[-1] == "background"
    for v in world.videos["mining_youtube"]:
        srt = (root / "mining_youtube" / "annotations" / f"{v.video_id}.srt").read_text()
        assert srt.count(" --> ") == len(v.segments)
        gt = (root / "mining_youtube" / "groundTruth" / f"{v.video_id}.txt").read_text().split()
        assert len(gt) == round(v.duration * TINY.fps) and set(gt) <= set(labels)


def test_the_world_writes_exactly_the_files_rule_demo_world_declares(two_worlds):
    """demo_world's outputs (eao.workflow.demo_files) are every file it writes: a file left out
    would be read by later jobs undeclared (and lost under shadow: tests/test_shadow.py)."""
    from eao.workflow.demo_files import DEMO_DIR, outputs

    root, _ = two_worlds
    declared = [p.removeprefix(f"{DEMO_DIR}/") for p in outputs().values()]
    folders = [p for p in declared if p.endswith("/")]
    written = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    in_folders = {w for w in written if any(w.startswith(f) for f in folders)}
    assert written - in_folders == {p for p in declared if not p.endswith("/")}
    assert all(any(w.startswith(f) for w in in_folders) for f in folders)  # none is empty
    assert {w for w in in_folders if w.endswith(".mp4")} == {
        f"{ds}/videos/{v.video_id}.mp4" for ds in DATASETS for v in plan_world(TINY).videos[ds]
    }
