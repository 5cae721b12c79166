"""Shared fixtures: tiny good and bad media files, made once per test session with ffmpeg."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# Everything a shell would trip over: quotes, a command substitution, ';', spaces, non-ASCII.
WEIRD_NAME = 'it\'s a "clip" $(touch pwned); tätà 日本.mp4'

GOOD_SECONDS = 3.0  # long enough that the first half of the bytes ends well before the last second
WIDTH, HEIGHT, FPS = 64, 48, 10


@dataclass(frozen=True)
class Media:
    root: Path
    good: Path  # video + audio, moov atom at the end (ffmpeg's default)
    good_faststart: Path  # video + audio, moov atom in front
    no_audio: Path
    audio_only: Path
    short: Path  # 0.3 s
    empty: Path  # 0 bytes
    text: Path  # a text file named .mp4
    truncated_faststart: Path  # first half of good_faststart: headers intact, samples missing
    truncated_end: Path  # first half of good: moov atom lost
    weird: Path  # a copy of `good` named WEIRD_NAME
    missing: Path  # never created
    rotated: Path | None  # `good` with a 90 degree display rotation; None if ffmpeg cannot
    # What the good files are (the bad ones are made from them or with the same settings).
    seconds: float = GOOD_SECONDS
    width: int = WIDTH
    height: int = HEIGHT
    fps: float = FPS


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", *args],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _make(
    path: Path, seconds: float, video: bool = True, audio: bool = True, faststart: bool = False
) -> Path:
    args: list[str] = []
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc=size={WIDTH}x{HEIGHT}:rate={FPS}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"]
    args += ["-t", str(seconds)]
    if video:
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac"]
    if faststart:
        args += ["-movflags", "+faststart"]
    _ffmpeg(*args, str(path))
    return path


def _first_half(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def _has_rotation(path: Path) -> bool:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return '"rotation"' in out or '"rotate"' in out


def _make_rotated(src: Path, dst: Path) -> Path | None:
    attempts = [
        ["-i", str(src), "-c", "copy", "-metadata:s:v:0", "rotate=90"],  # ffmpeg < 6
        ["-display_rotation", "90", "-i", str(src), "-c", "copy"],  # ffmpeg >= 6
    ]
    for args in attempts:
        try:
            _ffmpeg(*args, str(dst))
        except subprocess.CalledProcessError:
            continue
        if _has_rotation(dst):
            return dst
    return None


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.skip("ffmpeg/ffprobe not on PATH")
    root = tmp_path_factory.mktemp("media")
    good = _make(root / "good.mp4", GOOD_SECONDS)
    good_faststart = _make(root / "good_faststart.mp4", GOOD_SECONDS, faststart=True)
    weird = root / WEIRD_NAME
    shutil.copyfile(good, weird)
    empty = root / "empty.mp4"
    empty.write_bytes(b"")
    text = root / "text.mp4"
    text.write_text("this is not a video\n", encoding="utf-8")
    return Media(
        root=root,
        good=good,
        good_faststart=good_faststart,
        no_audio=_make(root / "no_audio.mp4", GOOD_SECONDS, audio=False),
        audio_only=_make(root / "audio_only.m4a", GOOD_SECONDS, video=False),
        short=_make(root / "short.mp4", 0.3),
        empty=empty,
        text=text,
        truncated_faststart=_first_half(good_faststart, root / "truncated_faststart.mp4"),
        truncated_end=_first_half(good, root / "truncated_end.mp4"),
        weird=weird,
        missing=root / "missing.mp4",
        rotated=_make_rotated(good, root / "rotated.mp4"),
    )


@pytest.fixture(scope="session")
def weird_name() -> str:
    return WEIRD_NAME


# -- reliability compass ------------------------------------------------------------------------
# Tests that measure the reliability figures (bad inputs tried, jobs crashed, videos lost,
# kill/resume cases) record them here; pytest prints them after the run.
_COMPASS: dict[str, dict] = {}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole workflow run once on the tiny demo world (tests/configs/tiny.yaml); tests only
    dry-run against it or copy from it."""
    repo = Path(__file__).resolve().parents[1]
    # A developer's finished tiny run of the current code, reused as it is (saves a run while
    # iterating on tests that only read it); never when recording goldens or in CI.
    reuse = os.environ.get("EAO_TINY_RUN")
    if reuse and (os.environ.get("EAO_UPDATE_GOLDEN") == "1" or os.environ.get("CI")):
        raise pytest.UsageError("EAO_TINY_RUN: not with EAO_UPDATE_GOLDEN=1 or in CI (a fresh run)")
    if reuse:
        return Path(reuse)
    workdir = tmp_path_factory.mktemp("tiny_run")
    from entry_files import write_released

    write_released(workdir / "released")  # the imported dataset `released` of tiny.yaml
    subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(repo / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(repo / "tests/configs/tiny.yaml"),
            "--cores",
            "2",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return workdir


@dataclass(frozen=True)
class ShadowRun:
    workdir: Path
    returncode: int
    output: str  # snakemake's stdout and stderr
    seconds: float


@pytest.fixture(scope="session")
def shadow_run(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> ShadowRun:
    """The whole tiny workflow run a second time, from scratch in a new folder, with every job
    in a Snakemake shadow directory (EAO_SHADOW=minimal: a job sees only its declared inputs,
    only its declared outputs come back). The released pickles are tiny_run's (write_released's
    bytes differ from call to call). tests/test_shadow.py and the determinism test of
    tests/test_workflow.py compare it with tiny_run; CI pays for it once."""
    repo = Path(__file__).resolve().parents[1]
    workdir = tmp_path_factory.mktemp("shadow_run")
    shutil.copytree(tiny_run / "released", workdir / "released")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile")]
    cmd += ["--directory", str(workdir), "--configfile", str(repo / "tests/configs/tiny.yaml")]
    env = {**os.environ, "EAO_SHADOW": "minimal"}
    start = time.monotonic()
    proc = subprocess.run(
        [*cmd, "--cores", "2"], env=env, capture_output=True, text=True, timeout=2400
    )
    seconds = time.monotonic() - start
    return ShadowRun(workdir, proc.returncode, proc.stdout + proc.stderr, seconds)


@pytest.fixture(scope="session")
def record_compass():
    def record(section: str, figures: dict) -> None:
        _COMPASS.setdefault(section, {}).update(figures)

    return record


def pytest_terminal_summary(terminalreporter) -> None:
    if _DISK:
        # Under -q there is no header: a full disk (every later ffmpeg test fails) shows here.
        terminalreporter.write_line(
            f"free disk for tmp_path: {_DISK['start']:.1f} GiB at the start, lowest after a "
            f"test {_DISK['lowest']:.1f} GiB, {_free_gib(_DISK['path']):.1f} GiB at the end"
        )
    if not _COMPASS:
        return
    terminalreporter.section("reliability compass")
    for section, figures in _COMPASS.items():
        for name, value in figures.items():
            terminalreporter.write_line(f"{section}: {name}: {value}")


@pytest.fixture(autouse=True)
def _torch_threads():
    """Entry points called in-process set torch's thread count (--threads); put it back, so
    that no test depends on which tests ran before it."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


# -- diagnosing a failed run from its log ---------------------------------------------------------
def _free_gib(path: Path) -> float:
    return shutil.disk_usage(path).free / 2**30


_DISK: dict = {}


def pytest_sessionstart(session) -> None:
    # the parent: a passing run's own folder is gone by the time the summary is written
    path = session.config._tmp_path_factory.getbasetemp().parent
    _DISK.update(path=path, start=_free_gib(path), lowest=_free_gib(path))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed subprocess (ffmpeg, snakemake) shows what it printed, not only its exit code."""
    rep = yield
    if call.when == "call" and _DISK:
        _DISK["lowest"] = min(_DISK["lowest"], _free_gib(_DISK["path"]))
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, subprocess.CalledProcessError):
        out = exc.stderr or exc.stdout
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        if out is None:
            text = "(its output was not captured)"
        cmd = shlex.split(exc.cmd) if isinstance(exc.cmd, str) else [str(c) for c in exc.cmd]
        # `python -m snakemake ...` is named by its module, not by the interpreter
        name = cmd[2] if len(cmd) > 2 and cmd[1] == "-m" else Path(cmd[0]).name
        rep.sections.append((f"{name} said", text[-4000:] or "(nothing)"))
        free = _free_gib(item.config._tmp_path_factory.getbasetemp())
        rep.sections.append(("free disk", f"{free:.1f} GiB"))
    return rep
