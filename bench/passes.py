"""One decode per video against one per backbone: decode-only and end-to-end measurements
(run through `bench/extraction.py --decode-only` / `--end-to-end`).

Decode-only, on the same files and the same number of ffmpeg processes at a time:
  separate    today's four jobs' decoding: each stream (2D, 3D, CLIP frames, 16 kHz audio) by
              its own ffmpeg over every video, drained in Python
  bare fused  the one-pass ffmpeg command (split filter graph, four outputs) writing to
              /dev/null: what ffmpeg alone costs, no Python
  ours        eao.features.decoding: the one-pass command, its four pipes read into arrays
and a breakdown of the one pass: pure decoding (`-f null`, no filters), decoding + filters
(outputs to the null muxer), + raw bytes written (bare fused), + pipes read by Python (ours).
CPU seconds are the ffmpeg children's (user + sys) and this process's own.

End-to-end: every backbone (ResNet-152, ResNeXt-101, CLIP, log-mel) extracted from the same
videos by one job per backbone (today: one decode per backbone, BatchNorm unfolded), by one job
for all with today's models (the one pass alone), and by one job for all with the folded
models (ours).
"""

from __future__ import annotations

import resource
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from eao.backbones.spec import Visual
from eao.features.decoding import Streams, decoded
from eao.features.extract import build_extractor, extract_media
from eao.io.audio import decode_audio
from eao.io.decode import FrameSpec, iter_frames
from eao.io.fused import AUDIO, AudioSpec, fused_command

SPECS = {
    "resnet152": FrameSpec(1, 224),
    "resnext101": FrameSpec(24, 112, 112),
    "clip": FrameSpec(1, 224, 224),
}
CHUNKS = {"resnet152": 64, "resnext101": 64, "clip": 64}


def timed(fn: Callable[[], object]) -> dict:
    """Wall seconds, ffmpeg's CPU seconds (reaped children) and this process's CPU seconds."""
    c0, s0, t0 = (
        resource.getrusage(resource.RUSAGE_CHILDREN),
        resource.getrusage(resource.RUSAGE_SELF),
        time.perf_counter(),
    )
    fn()
    wall = time.perf_counter() - t0
    c1, s1 = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_s": wall,
        "ffmpeg_cpu_s": c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime,
        "python_cpu_s": s1.ru_utime + s1.ru_stime - s0.ru_utime - s0.ru_stime,
    }


def _each(rows: list[dict], work: Callable[[dict], object], processes: int) -> None:
    with ThreadPoolExecutor(processes) as pool:
        list(pool.map(work, rows))


def separate(rows: list[dict], processes: int) -> None:
    """Four passes over the videos, one per stream, `processes` ffmpeg at a time each."""
    for spec in SPECS.values():
        _each(
            rows,
            lambda r, s=spec: sum(
                len(c) for c in iter_frames(r["path"], s, r["width"], r["height"])
            ),
            processes,
        )
    _each(rows, lambda r: len(decode_audio(r["path"])), processes)


def ours(rows: list[dict], processes: int, threads: int = 0, decoder: str = "cpu") -> None:
    streams = Streams(SPECS, CHUNKS, AudioSpec(), decoder_threads=threads, decoder=decoder)
    for i, name, item in decoded(rows, streams, processes):
        # a failed one pass would time the one-stream fallback instead: not this measurement
        assert not isinstance(item, (str, Exception)), (rows[i]["path"], name, item)


def bare_command(row: dict, variant: str) -> list[str]:
    """The one-pass command with its outputs to /dev/null ("raw"), to the null muxer
    ("filters": decoding + filters, nothing written), or decoding only ("decode")."""
    if variant == "decode":
        return [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-i",
            row["path"],
            "-map",
            "0:v:0",
            "-map",
            "0:a:0",
            "-f",
            "null",
            "-",
        ]
    fds = {name: 100 + i for i, name in enumerate([*SPECS, AUDIO])}
    cmd = fused_command(row["path"], SPECS, row["width"], row["height"], AudioSpec(), fds)
    out = []
    for arg in cmd:
        if arg.startswith("pipe:"):
            out += ["-y", "/dev/null"] if variant == "raw" else ["-"]
        else:
            out.append(arg)
    if variant == "filters":
        out = [a for a in out if a != "-y"]
        out = ["null" if a in ("rawvideo", "f32le") else a for a in out]
    return out


def bare(rows: list[dict], processes: int, variant: str = "raw") -> None:
    _each(
        rows,
        lambda r: subprocess.run(bare_command(r, variant), check=True, capture_output=True),
        processes,
    )


def torchcodec_cuda(rows: list[dict]) -> None:
    """Every frame decoded on the GPU by torchcodec (PyTorch's decoder library), for the
    decoder comparison only: frame selection and resizing would follow on the GPU."""
    from torchcodec.decoders import VideoDecoder  # optional: not a dependency of the project

    for r in rows:
        dec = VideoDecoder(r["path"], device="cuda")
        for start in range(0, len(dec), 64):
            dec.get_frames_in_range(start, min(start + 64, len(dec)))


def gpu_ways(rows: list[dict], processes: int) -> dict[str, Callable[[], object]]:
    """On a GPU: the one pass with NVDEC, and torchcodec's CUDA decoder when it is installed."""
    ways = {"ours_nvdec": lambda: ours(rows, processes, decoder="nvdec")}
    try:
        import torchcodec  # noqa: F401
    except ImportError:
        print("torchcodec not installed: its CUDA decoder is not measured", flush=True)
    else:
        ways["torchcodec_cuda_all_frames"] = lambda: torchcodec_cuda(rows)
    return ways


def decode_only(rows: list[dict], processes: int, repeats: int = 3, gpu: bool = False) -> dict:
    """Best of `repeats` for each way, interleaved; video-s/s and the ratios of the issue."""
    video_s = sum(r["duration_s"] for r in rows)
    ways = {
        "separate": lambda: separate(rows, processes),
        "bare_fused": lambda: bare(rows, processes, "raw"),
        "ours": lambda: ours(rows, processes),
        "ours_1_thread_per_ffmpeg": lambda: ours(rows, processes, threads=1),
        "decode_only_ffmpeg": lambda: bare(rows, processes, "decode"),
        "decode_and_filters_ffmpeg": lambda: bare(rows, processes, "filters"),
    } | (gpu_ways(rows, processes) if gpu else {})
    best: dict[str, dict] = {}
    for _ in range(repeats):
        for name, fn in ways.items():
            t = timed(fn)
            if name not in best or t["wall_s"] < best[name]["wall_s"]:
                best[name] = t
    out = {
        name: {
            **{k: round(v, 3) for k, v in t.items()},
            "video_s_per_s": round(video_s / t["wall_s"], 2),
        }
        for name, t in best.items()
    }
    out["ratio_ours_vs_separate"] = round(best["separate"]["wall_s"] / best["ours"]["wall_s"], 2)
    out["ratio_ours_vs_bare_fused"] = round(
        best["bare_fused"]["wall_s"] / best["ours"]["wall_s"], 3
    )
    out["ratio_bare_fused_vs_separate"] = round(
        best["separate"]["wall_s"] / best["bare_fused"]["wall_s"], 2
    )
    out.update(video_seconds=round(video_s, 1), videos=len(rows), processes=processes)
    out["baseline_is"] = (
        "separate: each stream (2D, 3D, CLIP frames, 16 kHz audio) decoded by its own ffmpeg "
        "over every video, as one job per backbone did; same files and processes at a time"
    )
    return out


def agreement(together: dict, alone: dict, visual: list[str]) -> dict:
    """Lowest cosine of the one pass's visual rows against each backbone's own job's, and
    whether log-mel came out byte-identical."""
    cos = min(
        float((together[n][0][i].astype("f4") * alone[n][0][i].astype("f4")).sum(1).min())
        for n in visual
        for i in alone[n][0]
    )
    same = all(
        (together["logmel"][0][i] == alone["logmel"][0][i]).all() for i in alone["logmel"][0]
    )
    return {"min_cosine": cos, "logmel_identical": bool(same)}


def end_to_end(
    rows: list[dict],
    today: dict[str, Visual],
    ours_visuals: dict[str, Visual],
    batch: int,
    device: str,
    processes: int,
    rounds: int = 2,
) -> dict:
    """Today's four jobs (one decode per backbone), the one pass with today's models, and ours
    (one pass, `ours_visuals`), interleaved, best of `rounds`; per-backbone seconds of today's
    jobs, and the features' agreement (lowest cosine of ours against today's)."""
    video_s = sum(r["duration_s"] for r in rows)
    logmel = build_extractor("logmel", {}, device)

    def jobs_of_today() -> dict:
        out, seconds = {}, {}
        for name, vis in [*today.items(), ("logmel", None)]:
            t0 = time.perf_counter()
            one = extract_media(rows, {name: vis or logmel}, batch, device, decoders=processes)
            seconds[name], out[name] = time.perf_counter() - t0, one[name]
        return {"features": out, "seconds": seconds}

    ways = {
        "today": jobs_of_today,
        "one_pass_same_models": lambda: extract_media(
            rows, today | {"logmel": logmel}, batch, device, decoders=processes
        ),
        "ours": lambda: extract_media(
            rows, ours_visuals | {"logmel": logmel}, batch, device, decoders=processes
        ),
    }
    best: dict[str, float] = {}
    kept: dict[str, object] = {}
    for _ in range(rounds):
        for name, fn in ways.items():
            t0 = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - t0
            if name not in best or elapsed < best[name]:
                best[name], kept[name] = elapsed, result
    alone, together = kept["today"]["features"], kept["ours"]
    res = {f"{k}_s": round(v, 2) for k, v in best.items()}
    res["today_per_backbone_s"] = {k: round(v, 2) for k, v in kept["today"]["seconds"].items()}
    res.update(agreement(together, alone, list(today)))
    res.update(
        video_seconds=round(video_s, 1),
        rounds=rounds,
        today_video_s_per_s=round(video_s / best["today"], 2),
        ours_video_s_per_s=round(video_s / best["ours"], 2),
        ratio=round(best["today"] / best["ours"], 2),
        ratio_one_pass_alone=round(best["today"] / best["one_pass_same_models"], 2),
        baseline_is="today: one job per backbone (one decode each, BatchNorm unfolded); same "
        "videos, weights, batch size and decoders",
    )
    return res
