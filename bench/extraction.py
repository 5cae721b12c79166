"""Extraction throughput: ours against a naive baseline, measured in the same run.

    python bench/extraction.py [--device cpu|cuda] [--bf16] [--videos 4] [--seconds 8]
                               [--rounds 3] [--decode-only] [--end-to-end] [--model-only s3d]

Baseline (what a first implementation does): decode every frame at the file's full rate and
size with one ffmpeg call per extractor, pick the frames in Python, resize/crop in torch, and
run the model on one video at a time. Ours (`eao.features.extract`): ffmpeg's fps/scale/crop
filters, decoding in threads ahead of the model, batches across videos, channels_last. Equal
work: the same videos, weights and batch size; one untimed warm-up call of each side, then
--rounds rounds calling naive and ours in turn, best of each. Test videos: demo-world videos
rendered at 640x360, 30 fps (HowTo100M's typical geometry). Prints a JSON line per backbone and
writes --out (bench/meta.py's run record, the baseline in one line, and `rates` for
bench/cost.py)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

from eao.demo.render import render_video
from eao.demo.world import DemoConfig, plan_world
from eao.features.extract import extract_visual
from eao.features.visual import build_visual

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meta import cpu_model, write_result  # noqa: E402

BASELINE = (
    "naive: every frame decoded at full rate and size by one ffmpeg call per backbone, "
    "subsampled in Python, resized/cropped in torch, one video per batch, NCHW fp32, "
    "BatchNorm unfolded; same videos, weights and batch size"
)


def make_videos(folder: str, n: int, seconds: float) -> list[dict]:
    cfg = DemoConfig(
        width=640,
        height=360,
        fps=30,
        howto_videos=n,
        tasks=4,
        step_seconds=(seconds / 4, seconds / 4),
    )
    world = plan_world(cfg)
    rows, jobs = [], []
    for v in world.videos["howto"][:n]:
        v.corrupt, v.has_audio = False, True
        path = os.path.join(folder, f"{v.video_id}.mp4")
        jobs.append((world.tasks[v.task], v, cfg, path, 0))
        # geometry from the plan: the GPU machine has ffmpeg but no ffprobe
        rows.append(
            {
                "video_id": v.video_id,
                "path": path,
                "width": cfg.width,
                "height": cfg.height,
                "duration_s": round(v.duration * cfg.fps) / cfg.fps,
                "fps": float(cfg.fps),
                "has_audio": True,
            }
        )
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        list(pool.map(render_video, *zip(*jobs, strict=True)))
    return rows


def decode_all(path: str, width: int, height: int) -> np.ndarray:
    """Every frame at full rate and size, the whole video in memory (the naive way)."""
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-i",
            path,
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def naive_inputs(name: str, frames: np.ndarray, src_fps: float, vis) -> torch.Tensor:
    """Subsample to the backbone's rate in Python, resize/crop in torch, make model inputs."""
    spec = vis.frames
    n_out = int(round(len(frames) / src_fps * spec.fps))
    idx = np.minimum(np.round(np.arange(n_out) * src_fps / spec.fps).astype(int), len(frames) - 1)
    x = torch.from_numpy(frames[idx].copy()).permute(0, 3, 1, 2).float()
    w, h = spec.scaled_size(frames.shape[2], frames.shape[1])
    x = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 255)
    if spec.crop:
        x0, y0 = (w - spec.crop) // 2, (h - spec.crop) // 2
        x = x[:, :, y0 : y0 + spec.crop, x0 : x0 + spec.crop]
    x = x.round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    if vis.to_inputs is None:  # windows across chunks (S3D): no per-chunk naive path
        raise ValueError(f"{name}: no naive per-chunk inputs (its inputs span decode chunks)")
    return vis.to_inputs(x)


@torch.inference_mode()
def run_naive(rows: list[dict], name: str, vis, batch: int, device: str) -> dict[int, np.ndarray]:
    out = {}
    for i, row in enumerate(rows):
        frames = decode_all(row["path"], row["width"], row["height"])
        inputs = naive_inputs(name, frames, row["fps"], vis)
        feats = [
            vis.model(inputs[s : s + batch].to(device)).float().cpu()
            for s in range(0, len(inputs), batch)
        ]
        out[i] = F.normalize(torch.cat(feats), dim=1).numpy()
    return out


@torch.inference_mode()
def model_rows_per_s(vis, batch: int, device: str, bf16: bool, repeats: int = 3) -> float:
    """The backbone alone on random inputs of its real shape: frames (2D, CLIP) or clips (3D,
    S3D: one 32-frame window in [0, 1] at the built input size); best of `repeats` batches
    after a warm-up."""
    size = vis.frames.crop or 224
    shape = {
        "resnet152": (3, 224, 398),
        "resnext101": (3, 16, 112, 112),
        "s3d": (3, 32, size, size),
    }.get(vis.name)
    if shape is None:
        x = torch.randint(0, 255, (batch, 224, 224, 3), dtype=torch.uint8)
    else:
        x = torch.randn(batch, *shape).contiguous(memory_format=vis.memory_format)
    x = x.to(device)
    best = float("inf")
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
        for _ in range(repeats + 1):  # the first call is the warm-up
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            vis.model(x)
            if device == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
    return batch / best


def interleaved(ways: dict, rounds: int) -> tuple[dict[str, float], dict]:
    """One untimed warm-up call of every way, then `rounds` rounds calling each once in turn;
    the best seconds of each way and the result of its best call."""
    for fn in ways.values():
        fn()
    best: dict[str, float] = {}
    kept: dict = {}
    for _ in range(rounds):
        for name, fn in ways.items():
            t0 = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - t0
            if name not in best or elapsed < best[name]:
                best[name], kept[name] = elapsed, result
    return best, kept


def min_cosine(ours: dict, naive: dict) -> float:
    return round(
        min(
            float((ours[i].astype(np.float32) * naive[i][: len(ours[i])]).sum(1).min())
            for i in ours
        ),
        3,
    )


def bench_backbone(name: str, rows: list[dict], args) -> dict:
    """Naive (fp32) and ours (fp32, and bf16 when asked) on the same videos, weights and batch
    size, interleaved, best of --rounds after a warm-up."""
    plain = build_visual(name, "random", 0, args.device, channels_last=False, fold_bn=False)
    vis = build_visual(name, "random", 0, args.device)
    ways = {"naive": lambda: run_naive(rows, name, plain, args.batch_size, args.device)}
    for bf16 in [False, True] if args.bf16 else [False]:
        ways["ours_bf16" if bf16 else "ours"] = lambda bf16=bf16: extract_visual(
            rows, vis, args.batch_size, args.device, autocast=bf16, decoders=args.decoders
        )[0]
    best, kept = interleaved(ways, args.rounds)
    res = {"backbone": name, "device": args.device, "rounds": args.rounds}
    res["time_naive"] = best.pop("naive")
    for tag, seconds in best.items():
        ours = kept[tag]
        res[f"time_{tag}"] = seconds
        res[f"rows_per_s_{tag}"] = round(sum(len(f) for f in ours.values()) / seconds, 1)
        res[f"model_only_rows_per_s_{tag}"] = round(
            model_rows_per_s(vis, args.batch_size, args.device, tag == "ours_bf16"), 1
        )
        res[f"min_cosine_{tag}_vs_naive"] = min_cosine(ours, kept["naive"])
    return res


def bench_passes(rows: list[dict], args) -> dict:
    """--decode-only and --end-to-end (bench/passes.py)."""
    import passes

    out = {}
    if args.decode_only:
        out["decode_only"] = passes.decode_only(
            rows, args.decoders, repeats=args.decode_rounds, gpu=args.device == "cuda"
        )
        print(json.dumps(out["decode_only"]), flush=True)
    if args.end_to_end:
        # today: the models as the four jobs ran them before BatchNorm folding
        today = {n: build_visual(n, "random", 0, args.device, fold_bn=False) for n in passes.SPECS}
        ours = {n: build_visual(n, "random", 0, args.device) for n in passes.SPECS}
        out["end_to_end"] = passes.end_to_end(
            rows, today, ours, args.batch_size, args.device, args.decoders
        )
        print(json.dumps(out["end_to_end"]), flush=True)
    return out


def rates(results: dict, device: str) -> list[dict]:
    """Measured extraction rates in the form bench/cost.py reads."""
    name = torch.cuda.get_device_name() if device == "cuda" else cpu_model()
    cores = os.cpu_count()
    source = f"bench/extraction.py {time.strftime('%Y-%m-%d')}, {device} ({name}), {cores} cores"
    out = [
        {
            "stage": r["backbone"],
            "device": device,
            "device_name": name,
            "cores": cores,
            "video_s_per_s": r["video_s_per_s_ours"],
            "source": source,
        }
        for r in results.get("backbones", [])
    ]
    e2e = results.get("end_to_end")
    if e2e:
        out.append(
            {
                "stage": "fused",
                "device": device,
                "device_name": name,
                "cores": cores,
                "video_s_per_s": e2e["ours_video_s_per_s"],
                "source": source,
            }
        )
        have = {r["stage"] for r in out}  # per-backbone runs first; the rest from their own job
        for stage, seconds in e2e["today_per_backbone_s"].items():
            if stage not in have:
                out.append(
                    {
                        "stage": stage,
                        "device": device,
                        "device_name": name,
                        "cores": cores,
                        "source": f"{source}, its own job (--end-to-end)",
                        "video_s_per_s": round(e2e["video_seconds"] / seconds, 2),
                    }
                )
    return out


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--decoders", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--backbones",
        default="resnet152,resnext101,clip",
        help="per-backbone naive-vs-ours runs ('' for none)",
    )
    ap.add_argument(
        "--model-only",
        default="",
        help="backbones timed alone on random inputs (e.g. s3d), no decoding",
    )
    ap.add_argument(
        "--decode-only",
        action="store_true",
        help="one decode per video vs one per backbone, no model (bench/passes.py)",
    )
    ap.add_argument(
        "--end-to-end",
        action="store_true",
        help="every backbone: one job for all vs one job per backbone",
    )
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds after a warm-up")
    ap.add_argument(
        "--decode-rounds", type=int, default=3, help="interleaved rounds of --decode-only"
    )
    ap.add_argument("--out", default="results/bench/extraction.json")
    return ap.parse_args()


def model_only(args) -> list[dict]:
    out = []
    for name in filter(None, args.model_only.split(",")):
        vis = build_visual(name, "random", 0, args.device)
        for bf16 in [False, True] if args.bf16 else [False]:
            rate = model_rows_per_s(vis, args.batch_size, args.device, bf16)
            res = {
                "backbone": name,
                "device": args.device,
                "bf16": bf16,
                "batch": args.batch_size,
                "model_only_rows_per_s": round(rate, 2),
            }
            print(json.dumps(res), flush=True)
            out.append(res)
    return out


def main() -> int:
    args = parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    results: dict = {"backbones": []}
    with tempfile.TemporaryDirectory() as tmp:
        rows = make_videos(tmp, args.videos, args.seconds)
        video_s = sum(r["duration_s"] for r in rows)
        for name in filter(None, args.backbones.split(",")):
            res = bench_backbone(name, rows, args)
            res["video_seconds"] = round(video_s, 1)
            for key in [k for k in res if k.startswith("time_")]:
                res[key.replace("time_", "video_s_per_s_")] = round(video_s / res.pop(key), 2)
            res["ratio"] = round(res["video_s_per_s_ours"] / res["video_s_per_s_naive"], 2)
            print(json.dumps(res), flush=True)
            results["backbones"].append(res)
        results.update(bench_passes(rows, args))
    if args.model_only:
        results["model_only"] = model_only(args)
    results["rates"] = rates(results, args.device)
    results["baseline_is"] = BASELINE
    results["video_geometry"] = "demo-world videos, 640x360, 30 fps, H.264 + AAC"
    results["videos"], results["seconds_each"] = args.videos, args.seconds
    results["batch_size"], results["decoders"] = args.batch_size, args.decoders
    write_result(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
