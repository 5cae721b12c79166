"""ffprobe/ffmpeg calls: probing a file and checking that it decodes.

Commands are built with ffmpeg-python and run as argument lists (never through a shell), so file
names with spaces, quotes, `$(...)` or `;` are passed verbatim. Paths are made absolute first: a
relative name starting with '-' or containing ':' would otherwise be read by ffmpeg as an option
or a protocol.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from dataclasses import dataclass

import ffmpeg

PROBE_TIMEOUT_S = 60.0
DECODE_CHECK_TIMEOUT_S = 60.0


class ProbeError(Exception):
    """A file that ffprobe/ffmpeg cannot read; the message is the reason, for a failures row."""


@dataclass(frozen=True)
class ProbeResult:
    duration_s: float
    fps: float | None
    width: int | None
    height: int | None
    has_video: bool
    has_audio: bool
    video_end_s: float | None = None  # where the video stream ends, if ffprobe says


def _run(args: list[str], timeout: float) -> bytes:
    # ffmpeg-python's own probe()/run() have no timeout; a damaged file can make ffprobe hang, and
    # one hung file must not stall a shard job. So we run the arguments it compiles ourselves.
    try:
        proc = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise ProbeError(f"{args[0]} timed out after {timeout:.0f} s") from e
    if proc.returncode != 0:
        raise ProbeError(f"{args[0]} failed: {stderr_reason(proc.stderr)}")
    return proc.stdout


def stderr_reason(stderr: bytes) -> str:
    """The last non-empty line of ffmpeg's stderr: the reason, for a failures row."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def _fraction(text: str | None) -> float | None:
    if not text or text in ("0/0", "N/A"):
        return None
    num, _, den = text.partition("/")
    try:
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 and math.isfinite(value) else None


def _rotation(stream: dict) -> int:
    """Display rotation in degrees (side data 'Display Matrix' or the old 'rotate' tag)."""
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            return int(round(float(side["rotation"])))
    return int(stream.get("tags", {}).get("rotate", 0))


def ffprobe(path: str) -> dict:
    """ffprobe's JSON (format + streams) for one file; raises ProbeError with the reason."""
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise ProbeError("file not found")
    if os.path.getsize(path) == 0:
        raise ProbeError("empty file (0 bytes)")
    args = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", path]
    try:
        return json.loads(_run(args, PROBE_TIMEOUT_S))
    except json.JSONDecodeError as e:
        raise ProbeError(f"ffprobe printed unreadable JSON: {e}") from e


def probe(path: str) -> ProbeResult:
    """Duration, frame rate, display size and which streams a file has."""
    info = ffprobe(path)
    streams = info.get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    duration = _duration(info, video + audio)
    if not video:
        return ProbeResult(duration, None, None, None, False, bool(audio))
    v = video[0]
    width, height = int(v.get("width") or 0) or None, int(v.get("height") or 0) or None
    if width and height and _rotation(v) % 180 != 0:
        width, height = height, width  # displayed size, as ffmpeg's autorotate decodes it
    fps = _fraction(v.get("avg_frame_rate")) or _fraction(v.get("r_frame_rate"))
    end = _stream_end(v)
    return ProbeResult(duration, fps, width, height, True, bool(audio), end)


def _stream_end(stream: dict) -> float | None:
    try:
        end = float(stream.get("start_time", 0) or 0) + float(stream["duration"])
    except (KeyError, TypeError, ValueError):
        return None
    return end if math.isfinite(end) and end > 0 else None


def _is_cover_art(stream: dict) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _duration(info: dict, streams: list[dict]) -> float:
    candidates = [info.get("format", {}).get("duration")] + [s.get("duration") for s in streams]
    for value in candidates:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds > 0:
            return seconds
    raise ProbeError("no duration: ffprobe found no stream with a length")


def check_decodes(path: str, result: ProbeResult) -> None:
    """Decode one video frame and a little audio near the end of the file.

    Headers can look fine for a file cut short (an mp4 with its index in front), so this seeks
    to the last second and asks for real samples; a truncated file yields none.
    """
    path = os.path.abspath(path)
    start = max(0.0, result.duration_s - 1.0)
    if result.has_video:
        # the video stream may end before the file does (a longer audio track)
        v_start = max(0.0, min(result.duration_s, result.video_end_s or math.inf) - 1.0)
        cmd = (
            ffmpeg.input(path, ss=v_start)
            .output("pipe:", format="rawvideo", pix_fmt="gray", s="8x8", vframes=1, map="0:v:0")
            .global_args("-v", "error", "-nostdin")
            .compile()
        )
        if len(_run(cmd, DECODE_CHECK_TIMEOUT_S)) < 64:
            raise ProbeError(f"no video frame decodes after t={v_start:.2f} s (truncated file?)")
    if result.has_audio:
        cmd = (
            ffmpeg.input(path, ss=start)
            .output("pipe:", format="s16le", ac=1, ar=8000, t=0.1, map="0:a:0")
            .global_args("-v", "error", "-nostdin")
            .compile()
        )
        if len(_run(cmd, DECODE_CHECK_TIMEOUT_S)) == 0:
            raise ProbeError(f"no audio decodes after t={start:.2f} s (truncated file?)")


def still_jpeg(path: str, seconds: float, height: int = 120) -> bytes:
    """One JPEG frame of the video at `seconds`, `height` pixels high, in its displayed
    orientation (ffmpeg's autorotate). Input seeking (-ss before -i) jumps to the nearest key
    frame and decodes from there, so a frame an hour in costs what one at the start does.
    ProbeError when ffmpeg fails, times out, or writes nothing (`seconds` past the end)."""
    cmd = (
        ffmpeg.input(os.path.abspath(path), ss=max(seconds, 0.0))
        .output("pipe:", vframes=1, format="image2pipe", vcodec="mjpeg", vf=f"scale=-2:{height}")
        .global_args("-nostdin", "-loglevel", "error")
        .compile()
    )
    jpeg = _run(cmd, DECODE_CHECK_TIMEOUT_S)
    if not jpeg:
        raise ProbeError(f"no frame at {seconds:.1f} s")
    return jpeg
