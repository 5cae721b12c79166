"""Draw a planned demo video and encode it to H.264 + AAC mp4 with ffmpeg.

Frames are drawn with numpy and piped to ffmpeg as raw RGB; audio is synthesised with numpy and
handed over as a raw s16le file. Drawing by hand (not with ffmpeg's lavfi sources) because each
step needs its own shape, colour, motion and texture, which lavfi expressions cannot say
readably. Encoding is single-threaded with bitexact flags, so the same plan gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile

import ffmpeg
import numpy as np

from eao.demo.world import DemoConfig, Step, Task, Video
from eao.io.atomic import atomic_open, atomic_path

ENCODE_TIMEOUT_S = 300


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        return (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    if shape == "triangle":
        return (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    if shape == "ring":
        d2 = dx**2 + dy**2
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    if shape == "cross":
        return ((np.abs(dx) <= r * 0.3) | (np.abs(dy) <= r * 0.3)) & (
            np.maximum(np.abs(dx), np.abs(dy)) <= r
        )
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= r
    raise ValueError(f"unknown shape {shape!r}")


def _position(step: Step, u: float, width: int, height: int) -> tuple[float, float]:
    """Centre of the step's object at phase u in [0, 1) of its motion."""
    cx, cy, ax, ay = width / 2, height / 2, width * 0.28, height * 0.25
    w = 2 * np.pi * u
    if step.motion == "horizontal":
        return cx + ax * np.sin(w), cy
    if step.motion == "vertical":
        return cx, cy + ay * np.sin(w)
    if step.motion == "orbit":
        return cx + ax * np.cos(w), cy + ay * np.sin(w)
    return cx + ax * np.sin(w), cy + ay * np.sin(w)  # diagonal


class FrameDrawer:
    """Draws the frames of one video: the task's textured background, the active step's object."""

    def __init__(self, task: Task, video: Video, cfg: DemoConfig, rng: np.random.Generator):
        self.task, self.video, self.cfg = task, video, cfg
        h, w = cfg.height, cfg.width
        yy = np.arange(h, dtype=np.float32)[:, None, None]
        base = np.array(task.background, np.float32) * (0.75 + 0.5 * yy / h)  # soft light gradient
        noise = rng.normal(0, 255 * task.noise_level, size=(8, h, w, 1)).astype(np.float32)
        # eight noisy backgrounds, cycled: sensor noise without drawing it anew every frame
        self.backgrounds = np.clip(base + noise, 0, 255).astype(np.uint8)
        self.phase = rng.uniform(0, 1, size=len(task.steps))
        self.radius = int(min(h, w) * 0.16)

    def frame(self, k: int) -> np.ndarray:
        t = k / self.cfg.fps
        img = self.backgrounds[k % len(self.backgrounds)].copy()
        for seg in self.video.segments:
            if seg.start <= t < seg.end:
                self._draw_step(img, self.task.steps[seg.step], t - seg.start, seg.step)
        return img

    def _draw_step(self, img: np.ndarray, step: Step, t: float, slot: int) -> None:
        u = (self.phase[slot] + t / 3.0) % 1.0
        cx, cy = _position(step, u, self.cfg.width, self.cfg.height)
        r, (h, w) = self.radius, img.shape[:2]
        y0, y1 = max(0, int(cy) - r - 1), min(h, int(cy) + r + 2)
        x0, x1 = max(0, int(cx) - r - 1), min(w, int(cx) + r + 2)
        dy, dx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dx, dy = dx - cx, dy - cy
        mask = _shape_mask(step.shape, dx, dy, r)
        # stripes at a step-specific frequency give the object a texture, not only a colour
        stripes = 0.7 + 0.3 * np.sign(np.sin((dx + dy) * step.stripes * np.pi / r))
        colour = (np.array(step.colour, np.float32) * stripes[..., None]).astype(np.uint8)
        box = img[y0:y1, x0:x1]
        box[mask] = colour[mask]


def synth_audio(task: Task, video: Video, cfg: DemoConfig, rng: np.random.Generator) -> np.ndarray:
    """Mono float audio in [-1, 1]: task-level noise floor plus each visible step's two tones."""
    n = int(round(video.duration * cfg.audio_rate))
    t = np.arange(n, dtype=np.float64) / cfg.audio_rate
    audio = rng.normal(0, task.noise_level * 0.5, size=n)
    for seg in video.segments:
        step = task.steps[seg.step]
        on = (t >= seg.start) & (t < seg.end)
        wobble = 0.6 + 0.4 * np.sin(2 * np.pi * step.wobble_hz * t[on])
        w = 2 * np.pi * t[on]
        tone = np.sin(step.tones[0] * w) + 0.6 * np.sin(step.tones[1] * w)
        audio[on] += 0.25 * wobble * tone
    return np.clip(audio, -1, 1)


def encode(path: str, frames, n_frames: int, audio: np.ndarray | None, cfg: DemoConfig) -> None:
    """Pipe `n_frames` RGB frames (and optional audio) into an H.264/AAC mp4 at `path`."""
    video_in = ffmpeg.input(
        "pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{cfg.width}x{cfg.height}", r=cfg.fps
    )
    streams, audio_file = [video_in.video], None
    opts = dict(
        vcodec="libx264",
        preset="veryfast",
        crf=23,
        pix_fmt="yuv420p",
        threads=1,
        movflags="+faststart",
        map_metadata=-1,
        fflags="+bitexact",
        **{"flags:v": "+bitexact"},
    )
    if audio is not None:
        # a scratch input, hidden like the temporary outputs: a killed run leaves no visible file
        fd, audio_file = tempfile.mkstemp(
            dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.", suffix=".s16le.tmp"
        )
        with os.fdopen(fd, "wb") as f:
            f.write((audio * 32767).astype("<i2").tobytes())
        streams.append(ffmpeg.input(audio_file, format="s16le", ar=cfg.audio_rate, ac=1).audio)
        opts.update(acodec="aac", audio_bitrate="64k", ar=cfg.audio_rate)
        opts["flags:a"] = "+bitexact"
    try:
        # ".mp4": ffmpeg picks the container by the output's extension
        with atomic_path(path, suffix=".mp4") as tmp:
            cmd = ffmpeg.output(*streams, tmp, **opts).global_args("-v", "error", "-y").compile()
            _run_encoder(cmd, frames, n_frames, path)
    finally:
        if audio_file:
            os.remove(audio_file)


def _run_encoder(cmd: list[str], frames, n_frames: int, path: str) -> None:
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for k in range(n_frames):
            proc.stdin.write(frames(k).tobytes())
        proc.stdin.close()
        err = proc.stderr.read()
        if proc.wait(timeout=ENCODE_TIMEOUT_S) != 0:
            raise RuntimeError(f"ffmpeg could not encode {path}: {err.decode(errors='replace')}")
    finally:
        if proc.poll() is None:  # an error above: the encoder must not outlive its output
            proc.kill()
            proc.wait()
        proc.stderr.close()


def render_video(task: Task, video: Video, cfg: DemoConfig, path: str, seed: int) -> None:
    """Write one planned video to `path` (a truncated copy when the plan marks it corrupt)."""
    key = int.from_bytes(hashlib.sha256(video.video_id.encode()).digest()[:8], "little")
    rng = np.random.default_rng([seed, key])
    drawer = FrameDrawer(task, video, cfg, rng)
    audio = synth_audio(task, video, cfg, rng) if video.has_audio else None
    n_frames = int(round(video.duration * cfg.fps))
    encode(path, drawer.frame, n_frames, audio, cfg)
    if video.corrupt:
        # like an interrupted download: the first half of the file's bytes
        with open(path, "rb") as f:
            data = f.read()
        with atomic_open(path, "wb") as f:
            f.write(data[: len(data) // 2])
