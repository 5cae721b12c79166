"""Decode video frames with ffmpeg, streamed: the fps, scale and crop happen inside ffmpeg.

Each extractor asks for frames in its own geometry (`FrameSpec`). ffmpeg's `fps` filter keeps
only the frames the extractor uses, `scale` (swscale bicubic, as in the reference extractor)
and `crop` shape them, and raw RGB comes through a pipe in chunks: no temporary JPEGs, no
full-rate frames in Python, and never a whole long video in memory.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import ffmpeg
import numpy as np

from eao.io.ffmpeg import stderr_reason
from eao.io.pipe import DEFAULT_STALL_TIMEOUT_S, Stalled, StallGuardedPipe


class DecodeError(Exception):
    """ffmpeg could not decode a file; the message is the reason (for a failures row)."""


@dataclass(frozen=True)
class FrameSpec:
    """Frames at `fps`, shorter side scaled to `short_side`, then an optional centre crop."""

    fps: float
    short_side: int
    crop: int | None = None

    def scaled_size(self, width: int, height: int) -> tuple[int, int]:
        """(W, H) after scaling, with the reference extractor's rounding (int truncation)."""
        if height < width:
            return int(width * self.short_side / height), self.short_side
        return self.short_side, int(height * self.short_side / width)

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        if self.crop:
            return self.crop, self.crop
        return self.scaled_size(width, height)


def frame_command(path: str, spec: FrameSpec, width: int, height: int) -> list[str]:
    """The ffmpeg argument list: fps -> scale -> [centre crop] -> rgb24 on stdout."""
    w, h = spec.scaled_size(width, height)
    stream = ffmpeg.input(os.path.abspath(path)).video.filter("fps", fps=spec.fps)
    stream = stream.filter("scale", w, h)
    if spec.crop:
        # integer offsets as in the reference: x = int((W - c) / 2), y = int((H - c) / 2)
        stream = stream.filter(
            "crop", spec.crop, spec.crop, (w - spec.crop) // 2, (h - spec.crop) // 2
        )
    out = stream.output("pipe:", format="rawvideo", pix_fmt="rgb24")
    return out.global_args("-v", "error", "-nostdin").compile()


def iter_frames(
    path: str,
    spec: FrameSpec,
    width: int,
    height: int,
    chunk: int = 64,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
) -> Iterator[np.ndarray]:
    """Yield uint8 arrays (k, H, W, 3), k <= chunk, in time order; raise DecodeError at the end
    if ffmpeg failed or produced no frame, and as soon as ffmpeg wrote nothing for
    `stall_timeout_s` seconds (it is killed)."""
    out_w, out_h = spec.output_size(width, height)
    frame_bytes = out_w * out_h * 3
    # stderr goes to a file: a corrupt video can print more errors than a pipe holds, and a
    # full stderr pipe would block ffmpeg while we wait on stdout.
    errfile = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        frame_command(path, spec, width, height), stdout=subprocess.PIPE, stderr=errfile
    )
    stdout = StallGuardedPipe(proc.stdout, stall_timeout_s)
    total = 0
    try:
        while True:
            # ffmpeg's bytes land in a fresh array, which is the chunk: no copy in Python
            buf = np.empty(frame_bytes * chunk, np.uint8)
            got = stdout.readinto(memoryview(buf))
            k = got // frame_bytes
            if k:
                total += k
                yield buf[: k * frame_bytes].reshape(k, out_h, out_w, 3)
            if got < len(buf):
                break
        code = wait_exit(proc, stall_timeout_s)
        errfile.seek(0)
        err = errfile.read()
    except Stalled as e:
        raise DecodeError(str(e)) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stdout.close()
        proc.stdout.close()
        errfile.close()
    if code != 0:
        raise DecodeError(f"ffmpeg failed: {stderr_reason(err)}")
    if total == 0:
        raise DecodeError("ffmpeg decoded no frame")


def wait_exit(proc: subprocess.Popen, timeout: float) -> int:
    """ffmpeg's exit code once its output ended; an ffmpeg that does not exit has stalled."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Stalled(f"ffmpeg stalled: no exit {timeout:g} s after its output ended") from None
