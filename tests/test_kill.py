"""Kill tests (issue #7): SIGKILL an extraction job mid-shard and a training job mid-epoch, run
the same command again, and get bit-identical results (CPU); no partial file is ever visible at
an output path (writes go to a hidden temp file, then rename). A pretraining killed under
Snakemake resumes with its whole history (metrics.jsonl, TensorBoard) and declared outputs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch

from eao.train import state

pytestmark = pytest.mark.slow

sys.path.insert(0, str(Path(__file__).parent))
from entry_files import write_released  # noqa: E402
from test_extract import make_clip  # noqa: E402
from test_train import (  # noqa: E402
    MODEL,
    TRAIN,
    corpus,  # noqa: E402, F401  (the fixture)
    metrics,
    tensorboard_steps,
)

from eao.io.parquet import MANIFEST, table_from_rows, write_table  # noqa: E402


def run(args: list[str]) -> int:
    return subprocess.run([sys.executable, "-m", *args]).returncode


def start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args], stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def kill_when(proc: subprocess.Popen, ready, timeout: float = 300, kill=None) -> None:
    """SIGKILL proc (or what kill(proc) kills) as soon as ready() holds (fails if it ends
    first), then wait for proc."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the job finished before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting to kill"
        time.sleep(0.02)
    if kill is None:
        os.kill(proc.pid, signal.SIGKILL)
    else:
        kill(proc)
    proc.wait()


@pytest.fixture(scope="module")
def shard(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("kill_clips")
    rows = []
    for i in range(4):
        path = d / f"c{i}.mp4"
        make_clip(path, 6.0)
        rows.append(
            {
                "video_id": f"c{i}",
                "path": str(path),
                "dataset": "t",
                "shard": 0,
                "duration_s": 6.0,
                "fps": 25.0,
                "width": 160,
                "height": 120,
                "has_video": True,
                "has_audio": True,
                "error": None,
            }
        )
    probed = d / "probed.parquet"
    write_table(table_from_rows(rows, MANIFEST), str(probed))
    return probed


def extract_args(shard: Path, out: Path) -> list[str]:
    return [
        "eao.features.extract",
        "--backbone",
        "resnet152",
        "--probed",
        str(shard),
        "--weights",
        "random",
        "--batch-size",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--out",
        str(out / "shard.parquet"),
        "--out-failures",
        str(out / "failures.parquet"),
    ]


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
    return [
        "eao.train.loop",
        "--model-config",
        json.dumps(MODEL),
        "--train-config",
        json.dumps(train),
        "--video-2d",
        f2d,
        "--video-3d",
        f3d,
        "--audio",
        audio,
        "--text",
        text,
        "--device",
        "cpu",
        "--threads",
        "1",
        "--out-dir",
        str(out),
    ]


def test_killed_training_resumes_to_the_uninterrupted_weights(
    corpus,  # noqa: F811
    tmp_path,
    record_compass,
):
    train = {**TRAIN, "epochs": 20}  # 40 steps, a checkpoint after every one
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run(train_args(corpus, straight, train)) == 0
    proc = start(train_args(corpus, killed, train), tmp_path / "killed.log")
    last = killed / "checkpoints.partial" / "last.pt"
    kill_when(proc, lambda: last.exists() and state.load(last)["step"] >= 3)
    stopped_at = state.load(last)["step"]
    assert not (killed / "model.pt").exists() and stopped_at < 40
    assert run(train_args(corpus, killed, train)) == 0
    a, b = state.load(straight / "model.pt"), state.load(killed / "model.pt")
    assert a["step"] == b["step"] == 40
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    record_compass("kill/resume", {"training killed mid-epoch, resumed": "bit-identical"})


# -- a pretraining killed under Snakemake ----------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]
# The tiny world's 3 usable videos one at a time: 3 steps an epoch, 30 in all, each checkpointed.
LONGER = "pretrain={epochs: 10, batch_videos: 1, checkpoint_every_steps: 1}"
MAIN = Path("results/pretrain/main")


def snakemake(workdir: Path, *args: str) -> list[str]:
    """The snakemake command of the tiny world's main pretraining (and the features it needs)."""
    if not (workdir / "released").exists():  # the released pickles tiny.yaml imports
        write_released(workdir / "released")
    # last: --config (as --forcerun) takes every word up to the next option
    config = ["--configfile", str(REPO / "tests/configs/tiny.yaml"), "--config", LONGER]
    return [
        *(sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")),
        *("--directory", str(workdir), "--cores", "2", str(MAIN / "model.pt"), *args, *config),
    ]


@pytest.fixture(scope="module")
def features_and_straight_run(tiny_run, tmp_path_factory) -> Path:
    """A working directory with the corpus's features and an uninterrupted pretraining, whose
    outputs are kept in straight/ (the kill tests then force the pretraining again). The
    features are the tiny run's, copied with their records (.snakemake/metadata) and times, so
    that only the pretraining runs here."""
    work = tmp_path_factory.mktemp("kill_workflow")
    for part in ("released", "results", ".snakemake/metadata"):
        shutil.copytree(tiny_run / part, work / part)
    subprocess.run(snakemake(work), check=True, capture_output=True, timeout=900)
    assert (work / "logs/pretrain/main.log").exists() and not (work / "logs/probe").exists()
    shutil.copytree(work / MAIN, work / "straight")
    return work


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def kill_trainer(proc: subprocess.Popen) -> None:
    """SIGKILL the training process only (as the OOM killer would): snakemake sees a failed
    job and deletes its outputs."""
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            words = child.cmdline()  # the job's shell has it inside one word, python as one
        except psutil.NoSuchProcess:
            continue
        if "eao.train.loop" in words:
            os.kill(child.pid, signal.SIGKILL)
            return
    raise AssertionError("no training process under snakemake")


def kill_snakemake(proc: subprocess.Popen) -> None:
    """SIGKILL snakemake with its job (its own session, as a lost node): the outputs stay,
    marked incomplete, and the rerun deletes them before it runs the job again."""
    os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("kill", "shadow"),
    [(kill_trainer, False), (kill_snakemake, False), (kill_trainer, True)],
    ids=["trainer", "snakemake", "trainer-in-shadow"],
)
def test_pretraining_killed_under_snakemake_resumes_with_its_whole_history(
    features_and_straight_run, kill, shadow, record_compass
):
    work = features_and_straight_run
    env = {**os.environ, "EAO_SHADOW": "minimal" if shadow else ""}
    out, straight = work / MAIN, work / "straight"
    last = out / "checkpoints.partial" / "last.pt"
    proc = subprocess.Popen(
        snakemake(work, "--forcerun", "pretrain"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # kill_snakemake kills this process group
    )
    # mid-epoch: step 2 of epoch 1's 3
    kill_when(proc, lambda: last.exists() and state.load(last)["step"] >= 2, kill=kill)
    assert proc.returncode != 0 and not (out / "model.pt").exists()
    stopped_at = state.load(last)["step"]
    assert stopped_at < 30
    if kill is kill_snakemake:  # its lock is left behind, as after a lost node
        subprocess.run(snakemake(work, "--unlock"), env=env, check=True, capture_output=True)
    rerun = subprocess.run(snakemake(work), env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert f"(step {stopped_at})" in (work / "logs/pretrain/main.log").read_text()  # resumed
    assert metrics(out) == metrics(straight)  # every step once, the same losses and lr
    assert [r["step"] for r in metrics(out)] == list(range(1, 31))
    assert tensorboard_steps(out) == list(range(1, 31))
    a, b = state.load(straight / "model.pt"), state.load(out / "model.pt")
    assert a["step"] == b["step"] == 30
    assert a["model"].keys() == b["model"].keys()
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert names(out / "checkpoints") == names(straight / "checkpoints")
    assert not (out / "checkpoints.partial").exists()
    case = f"pretraining under snakemake, {kill.__name__}" + (" (shadow)" if shadow else "")
    record_compass("kill/resume", {case: "every step once, bit-identical weights"})
