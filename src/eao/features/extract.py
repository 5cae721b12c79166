"""Extract one backbone's features for one shard of probed videos into one Parquet shard.

    python -m eao.features.extract --backbone resnet152 \
        --probed results/probe/howto/shard-00000.parquet --weights IMAGENET1K_V1 \
        --out results/features/resnet152/howto/shard-00000.parquet \
        --out-failures results/features/resnet152/howto/failures-00000.parquet

Backbones and their rates (the reference extractors; docs/features.md):
  resnet152   2D, 1 frame/s, shorter side 224, no crop, layer4 mean     -> 2048-d, 1/s
  resnext101  3D, 24 fps, shorter side 112, centre crop 112, 16-frame clips -> 2048-d, 1.5/s
  clip        CLIP image embedding, 1 frame/s, 224 centre crop         -> 512-d, 1/s
  logmel      16 kHz mono log-mel, 40 bands, 10 ms hop                  -> 40-d, 100/s
Visual rows are L2-normalised and stored as float16. A decode happens once per video, in a
background thread that stays ahead of the model; batches span videos (frames of the same size).
A video that fails to decode becomes a failures row; the rest of the shard is extracted.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from eao import __version__
from eao.devices import resolve_device
from eao.errors import ArgumentParser, run
from eao.features.shards import features_array, visual_schema, write_features
from eao.io.decode import DecodeError, FrameSpec, iter_frames
from eao.io.parquet import FAILURES, read_table, table_from_rows, write_table
from eao.io.pipe import DEFAULT_STALL_TIMEOUT_S, stall_seconds
from eao.progress import progress


@dataclass
class Visual:
    """A visual backbone: which frames it needs, how frames become model inputs, the model."""

    name: str
    frames: FrameSpec
    step_s: float  # seconds per feature row
    dim: int
    to_inputs: Callable[[np.ndarray], torch.Tensor]  # uint8 frames chunk -> model inputs
    model: Callable[[torch.Tensor], torch.Tensor]
    provenance: dict
    chunk: int = 64  # frames per decode chunk (a multiple of 16 for 3D clips)
    memory_format: torch.memory_format = torch.contiguous_format


def build_visual(
    name: str, weights: str, seed: int, device: str, channels_last: bool = True
) -> Visual:
    """The backbone `name` ready to run on `device`. channels_last: the conv nets run in NHWC
    (NDHWC for 3D), which oneDNN and cuDNN execute faster (1.39x for ResNet-152 on 2 CPU
    cores, measured); results differ from NCHW only by float rounding."""
    vis = _build_visual(name, weights, seed, device)
    if channels_last and name in ("resnet152", "resnext101"):
        fmt = torch.channels_last if name == "resnet152" else torch.channels_last_3d
        vis.model = vis.model.to(memory_format=fmt)
        vis.memory_format = fmt
    return vis


def _build_visual(name: str, weights: str, seed: int, device: str) -> Visual:
    if name == "resnet152":
        from eao.backbones.resnet2d import build_resnet152, normalize_frames

        model, prov = build_resnet152(weights, seed)
        return Visual(
            name,
            FrameSpec(1, 224),
            1.0,
            2048,
            lambda x: normalize_frames(torch.from_numpy(x)),
            model.to(device),
            prov.as_metadata(),
        )
    if name == "resnext101":
        from eao.backbones.resnext3d import build_resnext101, make_clips

        model, prov = build_resnext101(weights, seed)
        return Visual(
            name,
            FrameSpec(24, 112, 112),
            16 / 24,
            2048,
            lambda x: make_clips(torch.from_numpy(x)),
            model.to(device),
            prov.as_metadata(),
        )
    if name == "clip":
        from eao.backbones.clip import CLIPEncoder

        enc = CLIPEncoder(weights, seed=seed, device=device)
        return Visual(
            name,
            FrameSpec(1, 224, 224),
            1.0,
            enc.image_dim,
            torch.from_numpy,
            enc.encode_images,
            enc.provenance.as_metadata(),
        )
    raise ValueError(f"unknown visual backbone {name!r}")


def _decode_video(
    row: dict,
    frames: FrameSpec,
    chunk: int,
    out: queue.Queue,
    stop: threading.Event,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
) -> None:
    """Decoder thread for one video: its chunks, then None (or the DecodeError), into `out`."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    try:
        decoded = iter_frames(
            row["path"], frames, row["width"], row["height"], chunk, stall_timeout_s
        )
        for frames_chunk in decoded:
            if not put(frames_chunk):
                return  # the consumer stopped; leaving the loop closes ffmpeg
        put(None)
    except (DecodeError, OSError) as e:
        put(DecodeError(str(e)))
    except Exception as e:  # noqa: BLE001 - a thread that dies silently hangs the consumer
        put(e)  # a bug, not a bad video: re-raised in the consumer with its traceback


def _decoded(
    rows: list[dict],
    frames: FrameSpec,
    chunk: int,
    decoders: int,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
) -> Iterator[tuple[int, object]]:
    """(video index, chunk | DecodeError) in video order, decoded by `decoders` ffmpeg processes
    running ahead. Videos come out in order (so batches, and the bytes, are reproducible); a
    decoder that gets ahead blocks on its video's small queue, so memory stays bounded."""
    queues = [queue.Queue(maxsize=4) for _ in rows]
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, decoders))
    try:
        for i, row in enumerate(rows):  # the pool starts them in this order
            pool.submit(_decode_video, row, frames, chunk, queues[i], stop, stall_timeout_s)
        for i in range(len(rows)):
            while (item := queues[i].get()) is not None:
                if isinstance(item, Exception) and not isinstance(item, DecodeError):
                    raise item
                yield i, item
                if isinstance(item, DecodeError):
                    break
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


class Batcher:
    """Collects model inputs from many videos into batches of equal-shaped items."""

    def __init__(self, vis: Visual, batch_size: int, device: str, autocast: bool):
        self.model, self.memory_format = vis.model, vis.memory_format
        self.batch_size, self.device, self.autocast = batch_size, device, autocast
        self.pending: dict[tuple, list] = defaultdict(list)  # shape -> [(video, pos, input)]
        self.outputs: dict[int, dict[int, torch.Tensor]] = defaultdict(dict)

    def add(self, video: int, start: int, inputs: torch.Tensor) -> None:
        key = tuple(inputs.shape[1:])
        self.pending[key].extend((video, start + j, x) for j, x in enumerate(inputs))
        while len(self.pending[key]) >= self.batch_size:
            self._run(key, self.batch_size)

    def flush(self) -> None:
        for key in list(self.pending):
            while self.pending[key]:
                self._run(key, self.batch_size)

    @torch.inference_mode()
    def _run(self, key: tuple, n: int) -> None:
        items, self.pending[key] = self.pending[key][:n], self.pending[key][n:]
        batch = torch.stack([x for _, _, x in items]).to(self.device, non_blocking=True)
        batch = batch.contiguous(memory_format=self.memory_format)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
            feats = self.model(batch).float()
        # unit rows as the reference, kept as float16 right away: a shard's rows wait in memory
        # until the shard is written, and half the bytes matters at 1000 videos per shard
        feats = torch.nn.functional.normalize(feats, dim=1).to(torch.float16).cpu()
        for (video, pos, _), f in zip(items, feats, strict=True):
            self.outputs[video][pos] = f


def extract_visual(
    rows: list[dict],
    vis: Visual,
    batch_size: int,
    device: str,
    autocast: bool = False,
    decoders: int = 1,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """Features (n, dim) float16, L2-normalised rows, per row index; and decode errors."""
    batcher = Batcher(vis, batch_size, device, autocast)
    counts: dict[int, int] = defaultdict(int)
    errors: dict[int, str] = {}
    decoded = _decoded(rows, vis.frames, vis.chunk, decoders, stall_timeout_s)
    for i, item in progress(decoded, f"extract {vis.name}"):
        if isinstance(item, DecodeError):
            errors[i] = str(item)
        elif item is not None:
            inputs = vis.to_inputs(item)
            batcher.add(i, counts[i], inputs)
            counts[i] += len(inputs)
    batcher.flush()
    features = {}
    for i in range(len(rows)):
        if i in errors:
            continue
        out = batcher.outputs.get(i, {})
        matrix = torch.stack([out[p] for p in range(counts[i])]) if counts[i] else None
        if matrix is None:
            errors[i] = "no frames decoded"
            continue
        features[i] = matrix.numpy()
    return features, errors


def extract_logmel(
    rows: list[dict], stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S
) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """(T, 40) float16 log-mel per video; an empty matrix when the file has no audio."""
    from eao.features.logmel import log_mel
    from eao.io.audio import NoAudioStream, decode_audio

    features, errors = {}, {}
    for i, row in enumerate(progress(rows, "extract logmel")):
        if not row["has_audio"]:
            features[i] = np.zeros((0, 40), np.float16)
            continue
        try:
            wave = decode_audio(row["path"], stall_timeout_s=stall_timeout_s)
        except NoAudioStream:
            features[i] = np.zeros((0, 40), np.float16)
            continue
        except Exception as e:  # noqa: BLE001 - any decode failure is a failures row
            errors[i] = f"audio decode failed: {e}"
            continue
        features[i] = log_mel(wave).T.contiguous().numpy().astype(np.float16)
    return features, errors


PROBED_COLUMNS = ("video_id", "path", "has_audio", "error")  # what extraction reads of a row


def usable_rows(probed_path: str) -> list[dict]:
    """The shard's videos that the probe found usable, in manifest order."""
    table = read_table(probed_path, kind="manifest", required=PROBED_COLUMNS)
    return [r for r in table.to_pylist() if r["error"] is None]


def write_shard(
    path: str,
    rows: list[dict],
    features: dict[int, np.ndarray],
    step_s: float,
    dim: int,
    metadata: dict,
    audio: bool = False,
) -> None:
    kept = [i for i in range(len(rows)) if i in features]
    # a visual row covers [i, i+1) steps, so its centre is i + 0.5; a log-mel frame is centred
    # on its hop already (center=True)
    offset = 0.0 if audio else 0.5
    times = [((np.arange(len(features[i])) + offset) * step_s).astype(np.float32) for i in kept]
    columns = {
        "video_id": [rows[i]["video_id"] for i in kept],
        "times_s": pa.array([t.tolist() for t in times], pa.list_(pa.float32())),
        "features": features_array([features[i] for i in kept], dim, pa.float16()),
    }
    if audio:
        columns["has_audio"] = [len(features[i]) > 0 for i in kept]
    write_features(path, columns, visual_schema(dim, audio=audio), metadata)


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="python -m eao.features.extract", description=__doc__,
                        formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--backbone", required=True, choices=["resnet152", "resnext101", "clip", "logmel"]
    )
    ap.add_argument("--probed", required=True, help="probed manifest shard (Parquet)")
    ap.add_argument("--weights", default="random", help="name, local path, or 'random'")
    ap.add_argument("--seed", type=int, default=0, help="seed of random weights")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast on GPU")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--decoders",
        type=int,
        default=0,
        help="ffmpeg processes decoding ahead (default: --threads)",
    )
    ap.add_argument(
        "--stall-timeout-s",
        type=stall_seconds,
        default=DEFAULT_STALL_TIMEOUT_S,
        help="kill an ffmpeg that wrote nothing for this long; the video becomes a failures row",
    )
    ap.add_argument("--out", required=True)
    ap.add_argument("--out-failures", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rows = usable_rows(args.probed)
    meta = {
        "table": f"features/{args.backbone}",
        "code_version": __version__,
        "probed": args.probed,
        "device": device,
    }
    if args.backbone == "logmel":
        features, errors = extract_logmel(rows, args.stall_timeout_s)
        meta.update(backbone="logmel", weights="none", sample_rate="16000", frames_per_second="100")
        write_shard(args.out, rows, features, 0.01, 40, meta, audio=True)
    else:
        vis = build_visual(args.backbone, args.weights, args.seed, device)
        features, errors = extract_visual(
            rows,
            vis,
            args.batch_size,
            device,
            autocast=args.bf16 and device == "cuda",
            decoders=args.decoders or args.threads,
            stall_timeout_s=args.stall_timeout_s,
        )
        meta.update(
            vis.provenance, features_per_second=f"{1 / vis.step_s:g}", fps=f"{vis.frames.fps:g}"
        )
        write_shard(args.out, rows, features, vis.step_s, vis.dim, meta)
    failures = [
        {
            "video_id": rows[i]["video_id"],
            "path": rows[i]["path"],
            "stage": f"extract_{args.backbone}",
            "error": err,
        }
        for i, err in errors.items()
    ]
    write_table(table_from_rows(failures, FAILURES), args.out_failures, {"table": "failures"})
    print(
        f"{args.backbone}: {len(features)} videos extracted, {len(failures)} failed "
        f"({meta.get('weights')}, {device})"
    )
    for f in failures:
        print(f"  failed: {f['video_id']}: {f['error']}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="python -m eao.features.extract"))
