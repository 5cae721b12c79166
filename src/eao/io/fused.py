"""Decode a video once for every backbone: one ffmpeg process, one filter graph, one pipe per
output.

The decoded video is `split` into one branch per frame geometry (each branch is exactly the
fps -> scale -> [crop] chain of `eao.io.decode.frame_command`), and the first audio stream goes
through `eao.io.audio.audio_command`'s options. The bytes of every output equal those of the
per-backbone commands (tests/test_fused_decode.py compares them): the branches run the same
filters on the same decoded frames. What is saved is the demuxing and decoding of the file,
done once instead of once per backbone, and three of four process start-ups.

Outputs are anonymous pipes passed to ffmpeg as extra file descriptors (`pipe:N`), read by one
poll loop: ffmpeg writes its outputs interleaved and blocks on any full pipe, so every pipe
must be drained as it fills, never one after the other.
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

import ffmpeg
import numpy as np

from eao.io.decode import DecodeError, FrameSpec, wait_exit
from eao.io.ffmpeg import stderr_reason
from eao.io.pipe import DEFAULT_STALL_TIMEOUT_S, Stalled

AUDIO = "audio"  # the stream name of the audio output
DECODERS = ("cpu", "nvdec")
AUDIO_BLOCK_SAMPLES = 1 << 16  # float32 samples per audio chunk (4 s at 16 kHz)


@dataclass(frozen=True)
class AudioSpec:
    """The first audio stream, `gain_db` applied, mono at `sample_rate`, float32."""

    sample_rate: int = 16000
    gain_db: float = -4.0


def fused_command(
    path: str,
    frames: dict[str, FrameSpec],
    width: int,
    height: int,
    audio: AudioSpec | None,
    fds: dict[str, int],
    decoder_threads: int = 0,
    decoder: str = "cpu",
) -> list[str]:
    """One ffmpeg argument list writing stream `name` to file descriptor `fds[name]`: each
    FrameSpec's frames as rgb24, and the audio (when `audio` is given) as float32.

    decoder "nvdec": the GPU's video decoder (`-hwaccel cuda`); the decoded frames come back to
    host memory and go through the same filters. Its pixels may differ from the CPU decoder's
    by rounding (tests/test_nvdec.py, on a GPU, states by how much)."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    options = {"threads": decoder_threads} if decoder_threads else {}  # 0: ffmpeg's default
    if decoder == "nvdec":
        options["hwaccel"] = "cuda"
    inp = ffmpeg.input(os.path.abspath(path), **options)
    branches = [inp.video] if len(frames) == 1 else inp.video.split()
    outputs = []
    for i, (name, spec) in enumerate(frames.items()):
        w, h = spec.scaled_size(width, height)
        stream = branches[i].filter("fps", fps=spec.fps).filter("scale", w, h)
        if spec.crop:
            # the same integer offsets as eao.io.decode.frame_command
            stream = stream.filter(
                "crop", spec.crop, spec.crop, (w - spec.crop) // 2, (h - spec.crop) // 2
            )
        outputs.append(stream.output(f"pipe:{fds[name]}", format="rawvideo", pix_fmt="rgb24"))
    if audio is not None:
        # the options of eao.io.audio.audio_command (why each one: see there)
        outputs.append(
            inp["a:0"].output(
                f"pipe:{fds[AUDIO]}",
                af=f"volume={audio.gain_db}dB",
                ac=1,
                ar=audio.sample_rate,
                rematrix_maxval=1,
                format="f32le",
            )
        )
    return ffmpeg.merge_outputs(*outputs).global_args("-v", "error", "-nostdin").compile()


class DecodeStalled(DecodeError):
    """ffmpeg wrote nothing for the stall limit (a retry would stall again)."""


def check_nvdec(path: str, timeout_s: float = 60.0) -> None:
    """Decode one frame of `path` with `-hwaccel cuda`; DecodeError with ffmpeg's reason when
    the GPU decoder is not usable here (no GPU, no driver, an ffmpeg without it)."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-hwaccel", "cuda", "-i", os.path.abspath(path)]
    cmd += ["-map", "0:v:0", "-frames:v", "1", "-f", "null", "-"]  # one frame, thrown away
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise DecodeError(f"ffmpeg -hwaccel cuda timed out after {timeout_s:g} s") from None
    if proc.returncode != 0:
        raise DecodeError(f"ffmpeg -hwaccel cuda failed: {stderr_reason(proc.stderr)}")


class _Stream:
    """One output pipe: fills fixed-size chunks straight from the pipe (no copy in Python)."""

    def __init__(self, name: str, fd: int, item_bytes: int, items_per_chunk: int, shape: tuple):
        self.name, self.fd, self.shape = name, fd, shape
        self.item_bytes, self.chunk_bytes = item_bytes, item_bytes * items_per_chunk
        self.buf, self.got, self.items = self._new(), 0, 0

    def _new(self) -> np.ndarray:
        return np.empty(self.chunk_bytes, np.uint8)

    def read(self) -> tuple[np.ndarray | None, bool]:
        """Read until the chunk is full, the pipe is empty for now, or it ended:
        (a chunk or None, whether the pipe ended)."""
        while True:
            try:
                n = os.readv(self.fd, [memoryview(self.buf)[self.got :]])
            except BlockingIOError:
                return None, False
            if n == 0:
                return self._take(), True
            self.got += n
            if self.got == self.chunk_bytes:
                return self._take(), False

    def _take(self) -> np.ndarray | None:
        k = self.got // self.item_bytes  # a partial last item (a killed ffmpeg) is dropped
        if k == 0:
            return None
        chunk = self.buf[: k * self.item_bytes]
        self.items += k
        self.buf, self.got = self._new(), 0
        if self.name == AUDIO:
            return chunk.view("<f4")
        return chunk.reshape(k, *self.shape)


def iter_fused(
    path: str,
    frames: dict[str, FrameSpec],
    width: int,
    height: int,
    audio: AudioSpec | None = None,
    chunk: int | dict[str, int] = 64,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
    decoder_threads: int = 0,
    decoder: str = "cpu",
) -> Iterator[tuple[str, np.ndarray]]:
    """(stream name, chunk) in the order ffmpeg writes them: uint8 frames (k, H, W, 3), k <=
    the stream's chunk size, for each FrameSpec; float32 samples (before clipping) for AUDIO.

    Raises DecodeError when ffmpeg fails, a frame stream produced no frame, or ffmpeg wrote
    nothing for `stall_timeout_s` seconds (it is killed). Chunks already yielded stay valid.
    """
    sizes = chunk if isinstance(chunk, dict) else dict.fromkeys(frames, chunk)
    outputs = _outputs(frames, width, height, audio, sizes)  # before any fd is open

    def command(fds: dict[str, int]) -> list[str]:
        return fused_command(path, frames, width, height, audio, fds, decoder_threads, decoder)

    run = _start(outputs, command)
    try:
        yield from _drain(run.streams, stall_timeout_s)
        code = wait_exit(run.proc, stall_timeout_s)
        run.errfile.seek(0)
        err = run.errfile.read()
    except Stalled as e:
        raise DecodeStalled(str(e)) from None
    finally:
        run.close()
    if code != 0:
        raise DecodeError(f"ffmpeg failed: {stderr_reason(err)}")
    empty = [s.name for s in run.streams.values() if s.name != AUDIO and s.items == 0]
    if empty:
        raise DecodeError(f"ffmpeg decoded no frame (for {', '.join(empty)})")


@dataclass
class _Decoding:
    """A started fused decode: the ffmpeg process, its output pipes (read end -> _Stream) and
    the file its stderr goes to."""

    proc: subprocess.Popen
    streams: dict[int, _Stream]
    errfile: IO[bytes]

    def close(self) -> None:
        """Kill ffmpeg if it still runs (an error, or a consumer that stopped early), close
        the pipes and the stderr file."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in self.streams:
            os.close(fd)
        self.errfile.close()


def _outputs(
    frames: dict[str, FrameSpec],
    width: int,
    height: int,
    audio: AudioSpec | None,
    sizes: dict[str, int],
) -> dict[str, tuple[int, int, tuple]]:
    """Stream name -> (bytes per item, items per chunk, item shape) of every output pipe: a
    frame stream's items are rgb24 frames, the audio's float32 samples."""
    outputs = {}
    for name, spec in frames.items():
        w, h = spec.output_size(width, height)
        outputs[name] = (w * h * 3, sizes[name], (h, w, 3))
    if audio:
        outputs[AUDIO] = (4, AUDIO_BLOCK_SAMPLES, ())
    return outputs


def _start(
    outputs: dict[str, tuple[int, int, tuple]], command: Callable[[dict[str, int]], list[str]]
) -> _Decoding:
    """Open a pipe per output and start ffmpeg (`command(fds)`: stream name -> the write end
    it writes to). Every fd opened here is closed again when this fails; the write ends are
    closed either way (ffmpeg holds its own copies)."""
    pipes = {name: os.pipe() for name in outputs}
    errfile = None
    try:
        fds = {n: w for n, (_, w) in pipes.items()}
        cmd = command(fds)
        streams = {r: _Stream(name, r, *outputs[name]) for name, (r, _) in pipes.items()}
        errfile = tempfile.TemporaryFile()  # noqa: SIM115 - _Decoding.close; why a file: decode.py
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=errfile, pass_fds=list(fds.values())
        )
    except BaseException:
        for r, _ in pipes.values():
            os.close(r)
        if errfile is not None:
            errfile.close()
        raise
    finally:
        for _, w in pipes.values():
            os.close(w)  # ours closed, so a pipe ends when ffmpeg's end closes
    return _Decoding(proc, streams, errfile)


def _drain(streams: dict[int, _Stream], stall_timeout_s: float) -> Iterator[tuple[str, np.ndarray]]:
    """Read every pipe as it becomes readable until all have ended; Stalled when none gets a
    byte for `stall_timeout_s` (the clock runs only while we wait on ffmpeg, as in pipe.py)."""
    poll = select.poll()
    for fd in streams:
        os.set_blocking(fd, False)
        poll.register(fd, select.POLLIN)
    open_fds, timeout_ms = set(streams), max(1, int(stall_timeout_s * 1000))
    while open_fds:
        ready = poll.poll(timeout_ms)
        if not ready:
            raise Stalled(f"ffmpeg stalled: no output for {stall_timeout_s:g} s")
        for fd, _ in ready:
            stream = streams[fd]
            while True:  # drain this pipe before polling again
                chunk, ended = stream.read()
                if chunk is not None:
                    yield stream.name, chunk
                if ended:
                    poll.unregister(fd)
                    open_fds.discard(fd)
                if ended or chunk is None:
                    break
