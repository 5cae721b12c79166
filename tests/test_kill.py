"""Kill tests (issue #7): SIGKILL an extraction job mid-shard and a training job mid-epoch, run
the same command again, and get bit-identical results (CPU); no partial file is ever visible at
an output path (writes go to a hidden temp file, then rename)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from eao.train import state

pytestmark = pytest.mark.slow

sys.path.insert(0, str(Path(__file__).parent))
from test_extract import make_clip  # noqa: E402
from test_train import (  # noqa: E402
    MODEL,
    TRAIN,
    corpus,  # noqa: E402, F401  (the fixture)
)

from eao.io.parquet import MANIFEST, table_from_rows, write_table  # noqa: E402


def run(args: list[str]) -> int:
    return subprocess.run([sys.executable, "-m", *args]).returncode


def start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args], stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def kill_when(proc: subprocess.Popen, ready, timeout: float = 300) -> None:
    """SIGKILL proc as soon as ready() holds (fails if it ends first)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the job finished before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting to kill"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module")
def shard(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("kill_clips")
    rows = []
    for i in range(4):
        path = d / f"c{i}.mp4"
        make_clip(path, 6.0)
        rows.append({"video_id": f"c{i}", "path": str(path), "dataset": "t", "shard": 0,
                     "duration_s": 6.0, "fps": 25.0, "width": 160, "height": 120,
                     "has_video": True, "has_audio": True, "error": None})  # fmt: skip
    probed = d / "probed.parquet"
    write_table(table_from_rows(rows, MANIFEST), str(probed))
    return probed


def extract_args(shard: Path, out: Path) -> list[str]:
    return ["eao.features.extract", "--backbone", "resnet152", "--probed", str(shard),
            "--weights", "random", "--batch-size", "2", "--device", "cpu", "--threads", "1",
            "--out", str(out / "shard.parquet"),
            "--out-failures", str(out / "failures.parquet")]  # fmt: skip


def test_killed_extraction_leaves_no_file_and_reruns_to_identical_bytes(
    shard, tmp_path, record_compass
):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    straight.mkdir(), killed.mkdir()
    assert run(extract_args(shard, straight)) == 0
    log = tmp_path / "killed.log"
    proc = start(extract_args(shard, killed), log)
    # killed mid-shard: the model is built (its weights warning is out) and has been running
    # for a second on 24 frames that take ~10 s on one thread
    warned: list[float] = []

    def mid_shard() -> bool:
        if not warned and "RANDOM weights" in log.read_text():
            warned.append(time.monotonic())
        return bool(warned) and time.monotonic() - warned[0] > 1.0

    kill_when(proc, mid_shard)
    assert not (killed / "shard.parquet").exists() and not (killed / "failures.parquet").exists()
    assert [p.name for p in killed.iterdir() if not p.name.startswith(".")] == []
    assert run(extract_args(shard, killed)) == 0
    for name in ("shard.parquet", "failures.parquet"):
        assert (killed / name).read_bytes() == (straight / name).read_bytes(), name
    record_compass("kill/resume", {"extraction killed mid-shard, rerun": "bit-identical"})


def train_args(files: list[str], out: Path, train: dict) -> list[str]:
    f2d, f3d, audio, text = files
    return ["eao.train.loop", "--model-config", json.dumps(MODEL), "--train-config",
            json.dumps(train), "--video-2d", f2d, "--video-3d", f3d, "--audio", audio,
            "--text", text, "--device", "cpu", "--threads", "1", "--out-dir", str(out)]  # fmt: skip


def test_killed_training_resumes_to_the_uninterrupted_weights(
    corpus,  # noqa: F811
    tmp_path,
    record_compass,
):
    train = {**TRAIN, "epochs": 20}  # 40 steps, a checkpoint after every one
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run(train_args(corpus, straight, train)) == 0
    proc = start(train_args(corpus, killed, train), tmp_path / "killed.log")
    last = killed / "checkpoints" / "last.pt"
    kill_when(proc, lambda: last.exists() and state.load(last)["step"] >= 3)
    stopped_at = state.load(last)["step"]
    assert not (killed / "model.pt").exists() and stopped_at < 40
    assert run(train_args(corpus, killed, train)) == 0
    a, b = state.load(straight / "model.pt"), state.load(killed / "model.pt")
    assert a["step"] == b["step"] == 40
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    record_compass("kill/resume", {"training killed mid-epoch, resumed": "bit-identical"})
