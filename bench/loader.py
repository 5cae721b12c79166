"""Data loading against training: does the Parquet loader keep the training step fed?

    python bench/loader.py [--videos 256] [--seconds 240] [--batch-videos 8] [--workers 0 2 4]
                           [--config demo] [--device cpu]

Writes a synthetic HowTo-like corpus (random values, the real layouts and widths: ResNet-152
2048-d at 1/s and ResNeXt-101 2048-d at 1.5/s as float16, log-mel 40 x 100/s as float16, a
caption every 4 s of 8 MiniLM 384-d tokens) with the project's shard writer, then measures in
the same run:
  - the loader: eao's ClipDataset through a DataLoader with the training's batch sampler
    (batch_videos videos x 10 clips, 12 video tokens, 768 spectrogram frames), one epoch per
    worker count and video order (pretrain.order: random, locality), clips/s after the first
    batch (worker start-up excluded). The corpus is written as the pipeline writes it (one video
    per row group, eao.features.shards), many more row groups than a process caches (2 per
    table), as HowTo100M has; the baseline corpus has 32 videos per row group (the layout
    before), where random order decodes a whole group per video;
  - one training step of the model (`--config`, bench/training.py's sizes) on a loaded batch:
    forward, combinatorial loss, backward, Adam; clips/s, best of 3.
The ratio loader / step says how many steps' worth of data a loader delivers per step time: at
>= 1 the step never waits. Writes results/bench/loader.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meta import write_result  # noqa: E402
from training import CONFIGS, time_steps  # noqa: E402

DEMO_AUDIO_CHANNELS = (32, 32, 64, 64, 128, 128, 256)  # config.yaml's model.audio_channels

import eao.features.shards as shards  # noqa: E402
from eao.data.clips import ClipDataset, collate_clips  # noqa: E402
from eao.data.corpus import FeatureTables  # noqa: E402
from eao.model import EverythingAtOnce, ModelConfig  # noqa: E402
from eao.train.config import TrainConfig  # noqa: E402
from eao.train.distributed import World  # noqa: E402
from eao.train.trainer import epoch_batches  # noqa: E402


def write_corpus(root: str, n_videos: int, seconds: float) -> dict[str, str]:
    rng = np.random.default_rng(0)
    ids = [f"v{i:05d}" for i in range(n_videos)]
    paths = {}
    for kind, rate, dim in (("2d", 1.0, 2048), ("3d", 1.5, 2048), ("audio", 100.0, 40)):
        n = int(seconds * rate)
        feats = [rng.standard_normal((n, dim), dtype=np.float32).astype(np.float16) for _ in ids]
        cols = {
            "video_id": ids,
            "times_s": [(np.arange(n) / rate).tolist() for _ in ids],
            "features": shards.features_array(feats, dim, pa.float16()),
        }
        if kind == "audio":
            cols["has_audio"] = [True] * n_videos
        paths[kind] = os.path.join(root, f"{kind}.parquet")
        schema = shards.visual_schema(dim, audio=kind == "audio")
        shards.write_features(paths[kind], cols, schema, {"features_per_second": rate})
    starts = np.arange(0, seconds - 4, 4.0)
    rows = [(v, j, float(s), float(s) + 3.5) for v in ids for j, s in enumerate(starts)]
    cols = {
        "video_id": [r[0] for r in rows],
        "segment": [r[1] for r in rows],
        "start_s": [r[2] for r in rows],
        "end_s": [r[3] for r in rows],
        "tokens": [["word"] * 8 for _ in rows],
        "features": shards.features_array(
            [rng.standard_normal((8, 384), dtype=np.float32) for _ in rows], 384, pa.float32()
        ),
    }
    paths["text"] = os.path.join(root, "text.parquet")
    shards.write_features(paths["text"], cols, shards.text_schema(384), {})
    return paths


def make_dataset(paths: dict[str, str], cfg: TrainConfig) -> ClipDataset:
    tables = FeatureTables(
        video_2d=[paths["2d"]], video_3d=[paths["3d"]], audio=[paths["audio"]], text=[paths["text"]]
    )
    return ClipDataset(
        tables,
        n_clips=cfg.n_clips,
        min_time=cfg.min_time,
        n_video_tokens=cfg.video_tokens,
        audio_frames=cfg.audio_frames,
    )


def loader_clips_per_s(
    dataset: ClipDataset, cfg: TrainConfig, workers: int, max_batches: int | None = None
) -> dict:
    batches = epoch_batches(len(dataset), cfg, 0, World(), dataset.groups)[:max_batches]
    loader = DataLoader(
        dataset, batch_sampler=batches, collate_fn=collate_clips, num_workers=workers
    )
    clips, start = 0, None
    for batch in loader:
        if start is None:  # from the first batch on: worker start-up is not throughput
            start = time.perf_counter()
            continue
        clips += len(batch["video"])
    seconds = time.perf_counter() - start
    return {
        "order": cfg.order,
        "workers": workers,
        "batches": len(batches) - 1,
        "clips_per_s": clips / seconds,
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--videos", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=240.0, help="length of every video")
    ap.add_argument("--batch-videos", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4])
    ap.add_argument("--config", choices=list(CONFIGS), default="demo")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--baseline-groups",
        type=int,
        default=32,
        help="videos per row group of the baseline corpus (0: no baseline)",
    )
    ap.add_argument(
        "--batches",
        type=int,
        help="batches timed per loader run, baseline and ours alike (default: one epoch)",
    )
    ap.add_argument("--out", default="results/bench/loader.json")
    return ap.parse_args()


def measure_loaders(args: argparse.Namespace) -> tuple[dict | None, list[dict], dict]:
    """The baseline corpus's loader, ours per order and worker count (the same batches), and a
    loaded batch for the step."""
    cfg = TrainConfig(batch_videos=args.batch_videos, workers=0)
    orders = [dataclasses.replace(cfg, order=o) for o in ("random", "locality")]
    # Baseline, same run: shards with 32 videos per row group (the layout before), random order.
    baseline = None
    limit = args.batches + 1 if args.batches else None  # the first batch is not timed
    if args.baseline_groups:
        with tempfile.TemporaryDirectory() as root:
            default = shards.VIDEOS_PER_GROUP
            shards.VIDEOS_PER_GROUP = args.baseline_groups
            dataset = make_dataset(write_corpus(root, args.videos, args.seconds), cfg)
            shards.VIDEOS_PER_GROUP = default
            baseline = loader_clips_per_s(dataset, cfg, 0, max_batches=limit)
            baseline["videos_per_group"] = args.baseline_groups
            print(json.dumps({"baseline": baseline}), flush=True)
    with tempfile.TemporaryDirectory() as root:
        dataset = make_dataset(write_corpus(root, args.videos, args.seconds), cfg)
        loads = []
        for order_cfg in orders:
            for workers in args.workers:
                loads.append(loader_clips_per_s(dataset, order_cfg, workers, limit))
                print(json.dumps(loads[-1]), flush=True)
        batch = collate_clips(dataset.__getitems__(list(range(args.batch_videos))))
    return baseline, loads, batch


def main() -> int:
    args = parse_args()
    baseline, loads, batch = measure_loaders(args)

    # the demo workflow's model narrows the audio CNN (config.yaml); the other sizes keep the
    # paper's full one, as bench/training.py
    audio = {"audio_channels": DEMO_AUDIO_CHANNELS} if args.config == "demo" else {}
    model_cfg = ModelConfig(video_dim=4096, text_dim=384, **CONFIGS[args.config], **audio)
    torch.manual_seed(0)
    model = EverythingAtOnce(model_cfg).to(args.device)
    batch = {k: v.to(args.device) for k, v in batch.items()}
    step = time_steps(model, batch, 3, args.device, bf16=args.device == "cuda")
    step.update(config=args.config, device=args.device, threads=torch.get_num_threads())
    print(json.dumps({"step": step}), flush=True)
    for r in loads:
        r["ratio_to_step"] = round(r["clips_per_s"] / step["clips_per_s"], 2)
    if baseline:
        baseline["ratio_to_step"] = round(baseline["clips_per_s"] / step["clips_per_s"], 2)
        for r in loads:
            r["ratio_to_baseline"] = round(r["clips_per_s"] / baseline["clips_per_s"], 2)
    result = {
        "baseline": baseline,
        "loader": loads,
        "step": step,
        "videos": args.videos,
        "seconds": args.seconds,
        "batch_clips": len(batch["video"]),
        "cpu_count": os.cpu_count(),
        "baseline_is": f"the same corpus written with {args.baseline_groups} videos per row "
        "group (the layout before), random order, no workers; the same batches",
    }
    write_result(args.out, result)
    print(json.dumps({f"{r['order']} x{r['workers']}": r["ratio_to_step"] for r in loads}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
