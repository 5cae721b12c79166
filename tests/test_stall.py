"""A stalled ffmpeg is killed (issue #15): a stand-in `ffmpeg` first on PATH writes a few bytes
for one file name and then sleeps forever; frames, audio and the extraction shard job must end
within the stall limit, with a failures row saying that it stalled."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from eao.io.audio import AudioDecodeError, decode_audio
from eao.io.decode import DecodeError, FrameSpec, iter_frames
from eao.io.parquet import MANIFEST, table_from_rows, write_table
from eao.io.pipe import stall_seconds

sys.path.insert(0, str(Path(__file__).parent))
from test_extract import make_clip  # noqa: E402

STALLS = "hangs-here.mp4"  # the one name the stand-in stalls on (no test or tmp dir has it)


def stand_in_ffmpeg(folder: Path) -> tuple[Path, Path]:
    """(bin folder to put first on PATH, file where a stalled stand-in writes its pid)."""
    real = shutil.which("ffmpeg")
    if real is None:
        pytest.skip("ffmpeg not on PATH")
    bin_dir, pidfile = folder / "bin", folder / "stalled.pid"
    bin_dir.mkdir()
    script = bin_dir / "ffmpeg"
    # `exec sleep`: the process the reader kills is the sleeping one, so nothing is orphaned
    script.write_text(
        "#!/bin/bash\n"
        'for arg in "$@"; do\n'
        f'  case "$arg" in */{STALLS})\n'
        f'    echo $$ > "{pidfile}"\n'
        "    printf 'abc'\n"
        "    exec sleep 3600 ;;\n"
        "  esac\n"
        "done\n"
        f'exec "{real}" "$@"\n'
    )
    script.chmod(0o755)
    return bin_dir, pidfile


@pytest.fixture
def stalling(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(a real clip named STALLS, the pid file); the stand-in is first on PATH."""
    clip = tmp_path / STALLS
    make_clip(clip, 2.0)
    bin_dir, pidfile = stand_in_ffmpeg(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return clip, pidfile


def assert_killed(pidfile: Path) -> None:
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped too: a zombie would still answer


def test_stalled_frame_decode_is_killed_with_a_reason(stalling):
    clip, pidfile = stalling
    start = time.monotonic()
    with pytest.raises(DecodeError, match=r"ffmpeg stalled: no output for 1 s"):
        list(iter_frames(str(clip), FrameSpec(1, 120), 160, 120, stall_timeout_s=1))
    assert time.monotonic() - start < 15
    assert_killed(pidfile)


def test_stalled_audio_decode_is_killed_with_a_reason(stalling):
    clip, pidfile = stalling
    start = time.monotonic()
    with pytest.raises(AudioDecodeError, match=r"ffmpeg stalled: no output for 1 s"):
        decode_audio(str(clip), stall_timeout_s=1)
    assert time.monotonic() - start < 15
    assert_killed(pidfile)


def test_a_stalled_one_pass_fails_every_stream_without_a_retry(stalling):
    """A stall in the one-pass decode is not retried stream by stream (each would stall again):
    every backbone gets the reason, once, within about one stall limit."""
    from eao.features.decoding import Streams, video_items
    from eao.io.fused import AudioSpec

    clip, pidfile = stalling
    streams = Streams(
        {"a": FrameSpec(1, 120), "b": FrameSpec(24, 112, 112)},
        {"a": 4, "b": 16},
        AudioSpec(),
        stall_timeout_s=1,
    )
    row = {"path": str(clip), "width": 160, "height": 120, "has_audio": True}
    start = time.monotonic()
    items = list(video_items(row, streams))
    assert time.monotonic() - start < 15
    assert [name for name, _ in items] == ["a", "b", "audio"]
    assert all(isinstance(e, DecodeError) and "ffmpeg stalled" in str(e) for _, e in items)
    assert_killed(pidfile)


def test_a_slow_consumer_is_not_a_stall(media):
    # ffmpeg blocks on the full pipe while we sleep: only time spent waiting for it counts
    chunks = []
    for chunk in iter_frames(str(media.good), FrameSpec(10, 48), 64, 48, 4, stall_timeout_s=0.5):
        chunks.append(chunk)
        if len(chunks) == 1:
            time.sleep(1.5)
    assert sum(len(c) for c in chunks) == round(media.seconds * media.fps)


def test_stall_seconds_option_type():
    assert stall_seconds("2.5") == 2.5
    for bad in ("0", "-1", "inf", "nan", "soon"):
        with pytest.raises(Exception, match="seconds > 0"):
            stall_seconds(bad)


def test_extraction_job_ends_on_a_stalled_video(tmp_path):
    """The shard job, as the workflow runs it: the stalled video is a failures row, the others
    are extracted, and the job ends within the stall limit (not never)."""
    clips = tmp_path / "clips"
    clips.mkdir()
    names = ["a.mp4", STALLS, "b.mp4", "c.mp4"]
    rows = []
    for name in names:
        make_clip(clips / name, 2.0)
        rows.append(
            {
                "video_id": name[:-4],
                "path": str(clips / name),
                "dataset": "t",
                "shard": 0,
                "duration_s": 2.0,
                "fps": 25.0,
                "width": 160,
                "height": 120,
                "has_video": True,
                "has_audio": True,
                "error": None,
            }
        )
    probed = tmp_path / "probed.parquet"
    write_table(table_from_rows(rows, MANIFEST), str(probed))
    bin_dir, pidfile = stand_in_ffmpeg(tmp_path)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    out, fails = tmp_path / "shard.parquet", tmp_path / "failures.parquet"
    cmd = [
        sys.executable,
        "-m",
        "eao.features.extract",
        "--backbone",
        "resnet152",
        "--probed",
        str(probed),
        "--weights",
        "random",
        "--batch-size",
        "4",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--decoders",
        "2",
        "--stall-timeout-s",
        "3",
        "--out",
        str(out),
        "--out-failures",
        str(fails),
    ]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert elapsed < 60, f"took {elapsed:.0f} s"
    failures = pq.read_table(fails).to_pylist()
    assert [(f["video_id"], f["stage"]) for f in failures] == [("hangs-here", "extract_resnet152")]
    assert "ffmpeg stalled: no output for 3 s" in failures[0]["error"]
    assert pq.read_table(out).column("video_id").to_pylist() == ["a", "b", "c"]
    assert_killed(pidfile)
