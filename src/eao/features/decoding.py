"""The decoding side of extraction: every video of a shard decoded once for all its streams,
several ffmpeg processes ahead of the models, chunks handed over in video order.

A video's streams are the frame geometries of the enabled visual backbones and, when log-mel
features are wanted and the probe found audio, the 16 kHz audio. One ffmpeg process decodes
them all (`eao.io.fused`). If it fails, the video is decoded again one stream at a time (the
consumer is told to drop what it got, `RESTART`): a damaged audio track then costs only the
log-mel row, as it would with one process per backbone. A stall is not retried (it would
stall again, once per stream).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from eao.io.audio import AudioDecodeError, NoAudioStream, decode_audio
from eao.io.decode import DecodeError, FrameSpec, iter_frames
from eao.io.fused import AUDIO, AudioSpec, DecodeStalled, iter_fused
from eao.io.pipe import DEFAULT_STALL_TIMEOUT_S

RESTART = "restart"  # item: drop this video's chunks so far, its streams come again one by one


@dataclass(frozen=True)
class Streams:
    """What to decode of every video: frame geometries by name, chunk sizes, audio or not."""

    frames: dict[str, FrameSpec]
    chunks: dict[str, int]
    audio: AudioSpec | None = None
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S
    decoder_threads: int = 0  # ffmpeg's -threads per process; 0: ffmpeg's default
    decoder: str = "cpu"  # or "nvdec" (eao.io.fused); the one-stream fallback decodes on CPU


def video_items(row: dict, streams: Streams) -> Iterator[tuple[str, object]]:
    """(stream, chunk | DecodeError) for one video, or ("", RESTART) once after a failed fused
    decode. Audio chunks are float32 samples in [-1, 1]; a stream that fails yields its
    DecodeError last."""
    audio = streams.audio if row.get("has_audio", True) else None
    names = [*streams.frames, *([AUDIO] if audio else [])]
    if not names:
        return
    if not os.path.isfile(row["path"]):
        for name in names:
            yield name, DecodeError(f"file not found: {os.path.abspath(row['path'])}")
        return
    if names == [AUDIO]:  # audio alone: the audio command's own handling of a missing stream
        yield from _audio_alone(row, audio, streams.stall_timeout_s)
        return
    try:
        for name, chunk in iter_fused(
            row["path"],
            streams.frames,
            row["width"],
            row["height"],
            audio,
            streams.chunks,
            streams.stall_timeout_s,
            streams.decoder_threads,
            streams.decoder,
        ):
            yield name, np.clip(chunk, -1.0, 1.0) if name == AUDIO else chunk
        return
    except DecodeError as e:
        if len(names) == 1 or isinstance(e, DecodeStalled):
            for name in names:
                yield name, e
            return
    # logged by the consumer's caller: the job says how many videos took this way
    yield "", RESTART
    for name, spec in streams.frames.items():
        yield from _one_stream(name, row, spec, streams)
    if audio:
        yield from _audio_alone(row, audio, streams.stall_timeout_s)


def _one_stream(name: str, row: dict, spec: FrameSpec, streams: Streams) -> Iterator[tuple]:
    try:
        for chunk in iter_frames(
            row["path"],
            spec,
            row["width"],
            row["height"],
            streams.chunks[name],
            streams.stall_timeout_s,
        ):
            yield name, chunk
    except (DecodeError, OSError) as e:
        yield name, DecodeError(str(e))


def _audio_alone(row: dict, audio: AudioSpec, stall_timeout_s: float) -> Iterator[tuple]:
    try:
        yield AUDIO, decode_audio(row["path"], audio.sample_rate, audio.gain_db, stall_timeout_s)
    except NoAudioStream:
        return  # no samples: an empty log-mel row, as a file without audio
    except AudioDecodeError as e:
        yield AUDIO, DecodeError(str(e))


def _decode_video(
    items: Iterator[tuple[str, object]], out: queue.Queue, stop: threading.Event
) -> None:
    """Decoder thread for one video: its items, then None, into `out` (bounded: a decoder that
    is ahead waits here, and so does its ffmpeg, on a full pipe)."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in items:
            if not put(item):
                return  # the consumer stopped; leaving the loop closes ffmpeg
        put(None)
    except Exception as e:  # noqa: BLE001 - a thread that dies silently hangs the consumer
        put(("", e))  # a bug, not a bad video: re-raised in the consumer with its traceback


def decoded(
    rows: list[dict],
    streams: Streams,
    decoders: int,
    items: Callable[[dict, Streams], Iterator[tuple[str, object]]] = video_items,
) -> Iterator[tuple[int, str, object]]:
    """(video index, stream, chunk | DecodeError | RESTART), then (video index, "", None) when
    the video is done; videos in order (so batches, and the bytes, are reproducible), decoded
    by `decoders` ffmpeg processes running ahead with bounded queues."""
    queues = [queue.Queue(maxsize=8) for _ in rows]
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, decoders))
    try:
        for i, row in enumerate(rows):  # the pool starts them in this order
            pool.submit(_decode_video, items(row, streams), queues[i], stop)
        for i in range(len(rows)):
            while (item := queues[i].get()) is not None:
                name, payload = item
                if isinstance(payload, Exception) and not isinstance(payload, DecodeError):
                    raise payload
                yield i, name, payload
            yield i, "", None
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
