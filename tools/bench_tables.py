"""The tables of BENCHMARKS.md and docs/cluster.md, rendered from the bench JSONs: one function
per table (RENDERERS), used by tools/bench_docs.py, which finds the regions and writes them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from bench_search_table import search  # beside this file, as bench_docs imports this one

REPO = Path(__file__).resolve().parents[1]

EXTRACTION = ("extraction", "extraction_gpu", "extraction_passes_gpu")
# the baselines of bench/passes.py's sections, for a JSON written before they recorded them
SECTION_BASELINE = {
    "decode_only": "separate: each stream decoded by its own ffmpeg over every video, as one "
    "job per backbone did; same files and processes at a time",
    "end_to_end": "today: one job per backbone (one decode each, BatchNorm unfolded); same "
    "videos, weights, batch size and decoders",
}
# the command that writes each JSON when it is missing
MEASURE = {
    "extraction": "make bench",
    "training": "make bench",
    "training_paper": "python bench/training.py --config paper --videos 1 "
    "--out results/bench/training_paper.json",
    "loader": "make bench",
    "dag": "make bench",
    "word2vec": "make bench",
    "cost": "make bench-docs",
    "search": "make bench",
}


def num(x: float | None, digits: int = 3) -> str:
    """`digits` significant digits, thousands separated; '—' for None."""
    if x is None:
        return "—"
    if abs(x) >= 10 ** (digits - 1):
        return f"{x:,.0f}"
    return f"{x:#.{digits}g}".rstrip(".")


def ratio(x: float | None) -> str:
    return "—" if x is None else f"{num(x)}×"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def provenance(data: dict, baseline: str | None = None) -> str:
    """The line above every table: when, where, under what load, by which command; and the
    baseline (`baseline`, else the JSON's `baseline_is`)."""
    m = data.get("meta")
    if not m:
        return "Provenance not recorded (a JSON written before bench/meta.py).\n\n"
    load = ", ".join(f"{x:g}" for x in m.get("load_before", [])) or "?"
    after = ", ".join(f"{x:g}" for x in m.get("load_after", [])) or "?"
    gpu = m.get("accelerator") or "no GPU"
    line = (
        f"Measured {m['date']} on `{m['host']}` ({m['cpu']}, {m['cores']} cores, {gpu}; "
        f"load average {load} before, {after} after; torch {m.get('torch') or '—'}) by "
        f"`{m['command']}`."
    )
    baseline = baseline or data.get("baseline_is")
    if baseline:
        line += f" Baseline: {baseline}."
    return line + "\n\n"


# ---------------------------------------------------------------------------- renderers


def extraction(d: dict) -> str:
    """Per-backbone naive against ours (bench/extraction.py --backbones)."""
    rows = []
    for r in d.get("backbones", []):
        bf16 = r.get("video_s_per_s_ours_bf16")
        rows.append(
            [
                r["backbone"],
                num(r["video_s_per_s_naive"]),
                num(r["video_s_per_s_ours"]),
                f"**{ratio(r['ratio'])}**",
                num(bf16) if bf16 else "—",
                num(r["model_only_rows_per_s_ours"]),
                num(r.get("model_only_rows_per_s_ours_bf16")),
                num(r["min_cosine_ours_vs_naive"]),
            ]
        )
    if not rows:
        return "No per-backbone run in this JSON.\n"
    return extraction_inputs(d) + table(
        [
            "backbone",
            "naive (video-s/s)",
            "ours (video-s/s)",
            "ratio",
            "ours bf16",
            "model alone (rows/s)",
            "model alone bf16",
            "min cos",
        ],
        rows,
    )


def extraction_inputs(d: dict) -> str:
    rounds = (d.get("backbones") or [{}])[0].get("rounds", "?")
    video_s = (d.get("backbones") or [{}])[0].get("video_seconds") or (
        d.get("decode_only") or d.get("end_to_end") or {}
    ).get("video_seconds")
    return (
        f"{d.get('videos', '?')} videos, {num(video_s)} s of video "
        f"({d.get('video_geometry', '?')}), batch {d.get('batch_size', '?')}, "
        f"{d.get('decoders', '?')} decoders, best of {rounds} interleaved rounds after a "
        "warm-up.\n\n"
    )


DECODE_WAYS = [
    ("separate", "separate (one decode per backbone)"),
    ("bare_fused", "bare fused ffmpeg, outputs to /dev/null"),
    ("ours", "**ours** (one pass, pipes into arrays)"),
    ("ours_1_thread_per_ffmpeg", "ours, one thread per ffmpeg"),
    ("ours_nvdec", "ours, NVDEC"),
    ("torchcodec_cuda_all_frames", "torchcodec CUDA decoder, every frame (decode only)"),
    ("decode_only_ffmpeg", "breakdown: decoding only"),
    ("decode_and_filters_ffmpeg", "breakdown: decoding + filters"),
]


def decode_only(d: dict) -> str:
    o = d.get("decode_only")
    if not o:
        return "No decode-only run in this JSON.\n"
    sep = o["separate"]["wall_s"]
    rows = [
        [
            label,
            num(o[k]["wall_s"]),
            num(o[k]["video_s_per_s"]),
            num(o[k]["ffmpeg_cpu_s"]),
            num(o[k]["python_cpu_s"]),
            ratio(sep / o[k]["wall_s"]),
        ]
        for k, label in DECODE_WAYS
        if k in o
    ]
    head = (
        f"{o['videos']} videos, {num(o['video_seconds'])} s of video, {o['processes']} ffmpeg "
        "processes at a time; best of the interleaved rounds.\n\n"
    )
    cols = ["way", "wall (s)", "video-s/s", "ffmpeg CPU (s)", "Python CPU (s)", "vs separate"]
    foot = f"\nOurs against the bare fused command: {ratio(o['ratio_ours_vs_bare_fused'])}.\n"
    return head + table(cols, rows) + foot


def end_to_end(d: dict) -> str:
    e = d.get("end_to_end")
    if not e:
        return "No end-to-end run in this JSON.\n"
    per = ", ".join(f"{k} {num(v)} s" for k, v in e["today_per_backbone_s"].items())
    today = e["today_s"]
    rows = [
        [
            f"today: one job per backbone ({per})",
            num(today),
            num(today and e["video_seconds"] / today),
            "1×",
        ],
        [
            "one pass, today's models",
            num(e["one_pass_same_models_s"]),
            num(e["video_seconds"] / e["one_pass_same_models_s"]),
            ratio(e["ratio_one_pass_alone"]),
        ],
        [
            "**ours: one pass, BatchNorm folded**",
            num(e["ours_s"]),
            num(e["ours_video_s_per_s"]),
            f"**{ratio(e['ratio'])}**",
        ],
    ]
    head = (
        f"{num(e['video_seconds'])} s of video, best of {e['rounds']} interleaved rounds; lowest "
        f"cosine of ours against today's features {e['min_cosine']:.5f}, log-mel identical: "
        f"{'yes' if e['logmel_identical'] else 'no'}.\n\n"
    )
    return head + table(["way", "seconds", "video-s/s", "vs today"], rows)


def model_only(d: dict) -> str:
    rows = [
        [
            r["backbone"],
            "bf16" if r["bf16"] else "fp32",
            r["batch"],
            num(r["model_only_rows_per_s"]),
        ]
        for r in d.get("model_only", [])
    ]
    if not rows:
        return "No model-only run in this JSON.\n"
    return table(["backbone", "precision", "batch", "rows/s (model alone)"], rows)


def training(d: dict) -> str:
    """Every side of every config: step time, FLOPs, FLOP/s, MFU (and peak memory on a GPU)."""
    runs = d.get("runs", [])
    if not runs:
        return "No training run in this JSON.\n"
    gpu = any(r.get("device") == "cuda" for r in runs)
    speed = {
        (s["config"], k[len("speedup_vs_") :]): v
        for s in d.get("summaries", [])
        for k, v in s.items()
        if k.startswith("speedup_vs_")
    }
    rows = []
    for r in runs:
        rows.append(
            [
                r["config"],
                f"{num(r['params'] / 1e6)} M",
                r["clips"],
                r["model"],
                num(r["step_s"]),
                num(r["clips_per_s"]),
                num(r["flops_per_step"] / 1e9),
                num(r["flop_per_s"] / 1e9),
                f"{num(100 * r['mfu'])} %",
                ratio(speed.get((r["config"], r["model"])))
                if (r["config"], r["model"]) in speed
                else "ours",
            ]
            + ([num(r.get("peak_mem_gib"))] if gpu else [])
        )
    peak = d.get("peak", {})
    head = f"MFU against {num(peak.get('flop_per_s', 0) / 1e9)} GFLOP/s: {peak.get('is', '?')}.\n\n"
    cols = [
        "config",
        "parameters",
        "clips",
        "side",
        "s/step",
        "clips/s",
        "GFLOP/step",
        "GFLOP/s",
        "MFU",
        "ours is faster by",
    ]
    return head + table(cols + (["peak memory (GiB)"] if gpu else []), rows)


def training_parts(d: dict) -> str:
    """Where the best step's time goes, per side."""
    parts = [
        ("cnn_fwd_s", "audio CNN fwd"),
        ("cnn_bwd_s", "audio CNN bwd"),
        ("rest_fwd_s", "rest fwd"),
        ("rest_bwd_s", "rest bwd"),
        ("loss_s", "loss"),
        ("optimizer_s", "optimizer"),
    ]
    rows = [[r["config"], r["model"], *(num(r[k]) for k, _ in parts)] for r in d.get("runs", [])]
    if not rows:
        return "No training run in this JSON.\n"
    return "Seconds of the best step:\n\n" + table(
        ["config", "side", *(lab for _, lab in parts)], rows
    )


def dag(d: dict) -> str:
    b, h = d["baseline"], d["howto100m"]
    rows = [
        [
            f"{num(b['videos'])} videos (baseline)",
            b["shard_size"],
            num(b["jobs"].get("total")),
            num(b["dry_run_s"]),
            "1×",
        ],
        [
            f"{num(h['videos'])} videos",
            h["shard_size"],
            num(h["jobs"].get("total")),
            f"**{num(h['dry_run_s'])}**",
            ratio(d["ratio"]),
        ],
    ]
    return table(["corpus", "shard_size", "jobs", "dry run (s)", "vs baseline"], rows)


def loader(d: dict) -> str:
    b = d.get("baseline")
    rows = []
    if b:
        rows.append(
            [
                f"{b['videos_per_group']} videos per row group (baseline)",
                "random",
                b["workers"],
                b["batches"],
                num(b["clips_per_s"]),
                "1×",
                ratio(b["ratio_to_step"]),
            ]
        )
    for r in d["loader"]:
        rows.append(
            [
                "1 video per row group (now)",
                r["order"],
                r["workers"],
                r["batches"],
                num(r["clips_per_s"]),
                ratio(r.get("ratio_to_baseline")),
                ratio(r["ratio_to_step"]),
            ]
        )
    s = d["step"]
    head = f"{d['videos']} videos × {num(d['seconds'])} s, batches of {d['batch_clips']} clips.\n\n"
    foot = (
        f"\nTraining step ({s['config']} model, {s['device']}): {num(s['clips_per_s'])} "
        f"clips/s ({num(s['step_s'])} s a step).\n"
    )
    cols = [
        "shards",
        "order",
        "workers",
        "batches timed",
        "loader clips/s",
        "vs baseline",
        "loader / training step",
    ]
    return head + table(cols, rows) + foot


def word2vec(d: dict) -> str:
    before, after = d["before"], d["after"]
    rows = [
        ["binary: parse + sha256 (baseline)", num(before["s_median"]), "1×", num(before["rss_mb"])],
        [
            "converted folder, memory-mapped (now)",
            num(after["s_median"]),
            f"**{ratio(d['speedup'])}**",
            num(after["rss_mb"]),
        ],
    ]
    head = (
        f"Synthetic binary, {num(d['words'])} words × {d['dim']}-d ({num(d['binary_mb'])} MB); "
        f"median of {len(before['s_runs'])} fresh processes; the one-off conversion took "
        f"{num(d['convert_s'])} s.\n\n"
    )
    return head + table(["load", "start-up (s)", "vs baseline", "peak RSS (MB)"], rows)


def ddp(d: dict) -> str:
    row = [
        d["config"],
        d["world_size"],
        d["clips_per_rank"],
        num(d["step_s"]),
        num(d["clips_per_s"]),
    ]
    return table(
        ["config", "processes", "clips per process", "s/step (slowest rank)", "clips/s"], [row]
    )


def cost(d: dict) -> str:
    sys.path.insert(0, str(REPO / "bench"))
    import cost as cost_py  # noqa: PLC0415  bench/cost.py's own table

    return cost_py.markdown(d)


RENDERERS: dict[str, Callable[[dict], str]] = {
    f.__name__: f
    for f in (
        extraction,
        decode_only,
        end_to_end,
        model_only,
        training,
        training_parts,
        dag,
        loader,
        word2vec,
        ddp,
        cost,
        search,
    )
}
