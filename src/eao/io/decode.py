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

DECODE_TIMEOUT_S = 3600.0


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
        stream = stream.filter("crop", spec.crop, spec.crop, (w - spec.crop) // 2,
                               (h - spec.crop) // 2)
    out = stream.output("pipe:", format="rawvideo", pix_fmt="rgb24")
    return out.global_args("-v", "error", "-nostdin").compile()


def iter_frames(
    path: str, spec: FrameSpec, width: int, height: int, chunk: int = 64
) -> Iterator[np.ndarray]:
    """Yield uint8 arrays (k, H, W, 3), k <= chunk, in time order; raise DecodeError at the end
    if ffmpeg failed or produced no frame."""
    out_w, out_h = spec.output_size(width, height)
    frame_bytes = out_w * out_h * 3
    # stderr goes to a file: a corrupt video can print more errors than a pipe holds, and a
    # full stderr pipe would block ffmpeg while we wait on stdout.
    errfile = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        frame_command(path, spec, width, height), stdout=subprocess.PIPE, stderr=errfile
    )
    total = 0
    try:
        while True:
            data = _read_exactly(proc.stdout, frame_bytes * chunk)
            k = len(data) // frame_bytes
            if k:
                total += k
                frames = np.frombuffer(data, np.uint8, count=k * frame_bytes)
                yield frames.reshape(k, out_h, out_w, 3).copy()  # writable, for torch
            if len(data) < frame_bytes * chunk:
                break
        code = proc.wait(timeout=DECODE_TIMEOUT_S)
        errfile.seek(0)
        err = errfile.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        errfile.close()
    if code != 0:
        raise DecodeError(f"ffmpeg failed: {stderr_reason(err)}")
    if total == 0:
        raise DecodeError("ffmpeg decoded no frame")


def _read_exactly(pipe, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        block = pipe.read(n - got)
        if not block:
            break
        parts.append(block)
        got += len(block)
    return b"".join(parts)
