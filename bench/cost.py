"""What HowTo100M costs, per stage: measured rates turned into GPU-hours and node-days.

    python bench/cost.py [--gpus-per-node 8] [--cores-per-node 64] [--videos N] [--seconds S]

Reads what the other benchmarks wrote (every input optional):
  - results/bench/extraction.json and extraction_gpu.json (bench/gpu.sh), key "rates":
    [{"stage", "device", "device_name", "video_s_per_s", "source"}] for stages resnet152,
    resnext101, clip, logmel, fused (all backbones in one decoding pass) and, when measured,
    word2vec; other keys are ignored;
  - results/bench/training.json, training_paper.json and training_gpu.json (bench/gpu.sh): the
    runs of the "paper" config, clips_per_s of one training step on one device;
  - results/bench/word2vec.json: the start-up of a text job, quoted next to the word2vec row.
A stage without a measurement in those JSONs is printed as "not measured" with the command that
measures it: nothing here is guessed or typed in by hand (bench/gpu.sh measures the GPU rows).

  GPU stage:  GPU-hours = video seconds / rate / 3600;  node-days = GPU-hours / GPUs per node / 24
  CPU stage:  core-hours = video seconds / rate / 3600 x cores measured on;
              node-days = core-hours / cores per node / 24
  pretraining: clips = epochs x steps per epoch x 2240;  hours = clips / clips_per_s / 3600
Every figure assumes linear scaling across GPUs, cores and nodes (not measured).
Prints a markdown table and writes --out (default results/bench/cost.json).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import asdict, dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meta import write_result  # noqa: E402

# HowTo100M (Miech et al., ICCV 2019, abstract): 1.22 M videos, 136 M clips, "15 years of video".
HOWTO_VIDEOS = 1_220_000
HOWTO_SECONDS = 15 * 365.25 * 86400  # 4.73e8 s: 388 s (6.5 min) per video on average
HOWTO_SOURCE = "HowTo100M paper (Miech et al., ICCV 2019): 1.22 M videos, 15 years of video"

# Pretraining as in the EAO paper (15 epochs) and github.com/ninatu/everything_at_once: batches
# of 224 videos x 10 clips (2240 clips a step), an epoch is one pass over the video list, and the
# DataLoader drops the last partial batch (drop_last), hence floor, not ceil.
EPOCHS = 15
BATCH_VIDEOS = 224
CLIPS_PER_VIDEO = 10
# The paper's supplement: "approximately 2 days on four Nvidia V100 32GB GPUs".
PAPER_GPU_HOURS = 2 * 24 * 4

# name, the device the workflow runs it on (always shown; another device only when measured)
STAGES = [
    ("resnet152", "cuda", "2D ResNet-152, 1 frame/s"),
    ("resnext101", "cuda", "3D ResNeXt-101, 16-frame clips at 24 fps"),
    ("clip", "cuda", "CLIP ViT-B/32, 1 frame/s"),
    ("logmel", "cpu", "log-mel audio, 100 frames/s"),
    ("fused", "cuda", "fused: all backbones, one decoding pass"),
    ("word2vec", "cpu", "word2vec text"),
]
WORD2VEC_LABEL = STAGES[-1][2]
TRAIN_MODELS = [
    ("reference_amp_fp16", "pretraining, reference structure, fp16 AMP (official recipe)"),
    ("reference_fp32", "pretraining, reference structure, fp32"),
    ("ours_fp32", "pretraining, ours, fp32"),
    ("ours_bf16", "pretraining, ours, bf16"),
    ("ours_compiled_fp32", "pretraining, ours compiled, fp32"),
]
# How to measure what is missing (markdown: commands in backticks).
MEASURE_EXTRACTION = "`python bench/extraction.py --device {device}` (GPU: `bench/gpu.sh`)"
MEASURE_WORD2VEC = (
    "no bench yet; time extract_text on one real shard, "
    "`benchmarks/extract/howto/text_word2vec-<shard>.tsv` (video seconds of the shard / s)"
)
MEASURE_TRAINING = "`bench/gpu.sh` (its training step at the paper's size)"


@dataclass
class Row:
    stage: str
    device: str  # "cuda (NVIDIA H100)", "cpu (2 cores)"
    rate: str  # the measured rate with its unit, "" when not measured
    work: str  # what the rate is applied to
    hours: float | None  # GPU-hours, core-hours or machine-hours (see unit)
    unit: str
    node_days: float | None
    source: str  # where the rate comes from, or "not measured: <command>"


# ---------------------------------------------------------------------------- inputs


def load_json(path: str) -> dict:
    """A benchmark's JSON, or {} when it was not run (or is unreadable: say so, go on)."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print(f"[cost] ignoring {path}: {e}", file=sys.stderr)
        return {}
    return data if isinstance(data, dict) else {}


def own_job_rates(data: dict) -> list[dict]:
    """Rates of each backbone's own job in an --end-to-end run (log-mel included), for the
    stages the JSON's "rates" lack (a JSON written before extraction.py recorded them)."""
    e2e, meta = data.get("end_to_end") or {}, data.get("meta") or {}
    have = {r.get("stage") for r in data.get("rates", [])}
    device = next((r.get("device") for r in data.get("rates", [])), "cpu")
    return [
        {
            "stage": stage,
            "device": device,
            "device_name": meta.get("accelerator") or meta.get("cpu") or device,
            "cores": meta.get("cores"),
            "video_s_per_s": round(e2e["video_seconds"] / seconds, 2),
            "source": f"bench/extraction.py {meta.get('date', '')}, its own job (--end-to-end)",
        }
        for stage, seconds in e2e.get("today_per_backbone_s", {}).items()
        if stage not in have and seconds > 0
    ]


def extraction_rates(data: dict) -> dict[tuple[str, str], dict]:
    """(stage, "cuda"|"cpu") -> the last well-formed entry of data["rates"] for it."""
    rates = {}
    for r in data.get("rates", []):
        try:
            rate = float(r["video_s_per_s"])
            key = (r["stage"], "cuda" if str(r["device"]).startswith("cuda") else "cpu")
        except (KeyError, TypeError, ValueError):
            print(f"[cost] ignoring a malformed rate: {r}", file=sys.stderr)
            continue
        if rate > 0:
            rates[key] = {**r, "video_s_per_s": rate}
    return rates


def cores_of(entry: dict) -> int | None:
    """CPU cores a CPU rate was measured on: its "cores"/"threads" key or its source text."""
    for key in ("cores", "threads"):
        if entry.get(key):
            return int(entry[key])
    m = re.search(r"(\d+)\s+(?:shared\s+)?(?:CPU\s+)?cores", str(entry.get("source", "")))
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------- arithmetic


def gpu_hours(seconds: float, rate: float) -> float:
    return seconds / rate / 3600


def node_days(hours: float, per_node: int) -> float:
    return hours / per_node / 24


def pretraining_clips(videos: int) -> tuple[int, int]:
    """(steps, clips) of the paper's pretraining over `videos` videos."""
    steps = EPOCHS * (videos // BATCH_VIDEOS)
    return steps, steps * BATCH_VIDEOS * CLIPS_PER_VIDEO


def costed(
    stage: str, device: str, measured: dict, work: str, wall_h: float, args: argparse.Namespace
) -> Row:
    """A measured row from the wall hours of one device (a GPU, or the CPU it was measured on).
    `measured`: name (the device's), rate (with its unit), source, cores (CPU only, or None)."""
    source, cores = measured["source"], measured.get("cores")
    names = [measured["name"]] if measured["name"] != device else []
    if device == "cuda":
        hours, unit, days = wall_h, "GPU-h", node_days(wall_h, args.gpus_per_node)
    elif cores is None:  # no core count: hours of the measuring machine, no node-days
        hours, unit, days = wall_h, "machine-h", None
        source += "; CPU rate, cores not recorded"
    else:
        hours, unit = wall_h * cores, "core-h"
        days = node_days(hours, args.cores_per_node)
        names.append(f"{cores} cores")
        source += "; CPU rate"
    shown = f"{device} ({', '.join(names)})" if names else device
    return Row(stage, shown, measured["rate"], work, hours, unit, days, source)


def not_measured(stage: str, device: str, work: str, how: str) -> Row:
    unit = "GPU-h" if device == "cuda" else "core-h"
    return Row(stage, device, "", work, None, unit, None, f"not measured: {how}")


# ---------------------------------------------------------------------------- rows


def extraction_rows(rates: dict, word2vec: dict, args: argparse.Namespace) -> list[Row]:
    work = f"{sci(args.seconds)} video-s"
    rows = []
    for stage, home, label in STAGES:
        for device in ("cuda", "cpu"):
            entry = rates.get((stage, device))
            if entry is not None:
                rate = entry["video_s_per_s"]
                measured = {
                    "name": entry.get("device_name") or device,
                    "rate": f"{rate:g} video-s/s",
                    "source": entry.get("source") or "results/bench/extraction.json",
                    "cores": cores_of(entry),
                }
                wall_h = gpu_hours(args.seconds, rate)
                rows.append(costed(label, device, measured, work, wall_h, args))
            elif device == home:
                how = MEASURE_WORD2VEC if stage == "word2vec" else MEASURE_EXTRACTION
                rows.append(not_measured(label, device, work, how.format(device=device)))
    if word2vec.get("after"):  # only the start-up is measured: say so next to the row
        startup, words = word2vec["after"]["s_median"], word2vec.get("words", "?")
        for row in rows:
            if row.stage == WORD2VEC_LABEL:
                row.source += (
                    f"; job start-up {startup:.3f} s measured (bench/word2vec.py, "
                    f"{words}-word synthetic file)"
                )
    return rows


def training_rows(runs: list[dict], args: argparse.Namespace) -> list[Row]:
    steps, clips = pretraining_clips(args.videos)
    work = f"{clips / 1e6:.1f} M clips ({steps:,} steps)"
    by_model = {r.get("model"): r for r in runs if r.get("config") == "paper"}  # last one wins
    rows = []
    for model, label in TRAIN_MODELS:
        run = by_model.get(model)
        if run is None:
            if model in ("reference_fp32", "ours_fp32"):  # the two every bench run has
                rows.append(not_measured(label, "cuda", work, MEASURE_TRAINING))
            continue
        device = "cuda" if str(run.get("device", "cpu")).startswith("cuda") else "cpu"
        rate = float(run["clips_per_s"])
        measured = {
            "name": run.get("device_name") or device,
            "rate": f"{fmt(rate)} clips/s",
            "source": f"{run.get('file', 'training.json')} {run.get('date', '')} "
            "(bench/training.py --config paper, "
            f"{run.get('clips', '?')} clips a step, {run.get('step_s', 0):.3g} s a step)",
            "cores": run.get("threads"),
        }
        rows.append(costed(label, device, measured, work, clips / rate / 3600, args))
    # The authors' own figure, a yardstick for the rows above (reported, not measured here).
    implied = f"~{clips / PAPER_GPU_HOURS / 3600:,.0f} clips/s a GPU (implied)"
    days = node_days(PAPER_GPU_HOURS, args.gpus_per_node)
    source = "reported, not measured: the paper's supplement, ~2 days on 4x V100 32 GB"
    rows.append(
        Row(
            "pretraining, the paper's run",
            "cuda (4x V100 32 GB)",
            implied,
            work,
            PAPER_GPU_HOURS,
            "GPU-h",
            days,
            source,
        )
    )
    return rows


def build(extraction: dict, runs: list[dict], word2vec: dict, args: argparse.Namespace) -> dict:
    rows = extraction_rows(extraction_rates(extraction), word2vec, args)
    rows += training_rows(runs, args)
    steps, clips = pretraining_clips(args.videos)
    return {
        "howto": {
            "videos": args.videos,
            "seconds": args.seconds,
            "mean_video_s": args.seconds / args.videos,
            "source": HOWTO_SOURCE
            if (args.videos, args.seconds) == (HOWTO_VIDEOS, HOWTO_SECONDS)
            else "given with --videos/--seconds",
        },
        "pretraining": {
            "epochs": EPOCHS,
            "batch_videos": BATCH_VIDEOS,
            "clips_per_video": CLIPS_PER_VIDEO,
            "steps": steps,
            "clips": clips,
        },
        "gpus_per_node": args.gpus_per_node,
        "cores_per_node": args.cores_per_node,
        "rows": [asdict(r) for r in rows],
    }


# ---------------------------------------------------------------------------- output


def fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if x >= 100 else f"{x:#.3g}"  # '#': 1.00, not 1


def sci(x: float) -> str:
    """4.73e8, not 4.73e+08."""
    mantissa, exponent = f"{x:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def markdown(result: dict) -> str:
    h, p = result["howto"], result["pretraining"]
    lines = [
        f"HowTo100M: {h['videos']:,} videos, {sci(h['seconds'])} s of video "
        f"({h['mean_video_s']:.0f} s = {h['mean_video_s'] / 60:.1f} min a video; {h['source']}).",
        f"Pretraining: {p['epochs']} epochs x {p['steps'] // p['epochs']:,} steps of "
        f"{p['batch_videos']} videos x {p['clips_per_video']} clips = {p['clips'] / 1e6:.1f} M "
        "clips. A node: "
        f"{result['gpus_per_node']} GPUs or {result['cores_per_node']} CPU cores; linear scaling "
        "assumed.",
        "",
        "| stage | device | rate | work | hours | node-days | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        hours = f"{fmt(r['hours'])} {r['unit']}" if r["hours"] is not None else "—"
        lines.append(
            f"| {r['stage']} | {r['device']} | {r['rate'] or '—'} | {r['work']} | "
            f"{hours} | {fmt(r['node_days'])} | {r['source']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--extraction",
        nargs="*",
        help="extraction.py JSONs; a later file's rate of a stage wins",
        default=[
            "results/bench/extraction.json",
            "results/bench/extraction_gpu.json",
            "results/bench/extraction_passes_gpu.json",
        ],
    )
    ap.add_argument(
        "--training",
        nargs="*",
        help="training.py JSONs; a later file's run of a model wins",
        default=[
            "results/bench/training.json",
            "results/bench/training_paper.json",
            "results/bench/training_gpu.json",
        ],
    )
    ap.add_argument("--word2vec", default="results/bench/word2vec.json")
    ap.add_argument("--videos", type=int, default=HOWTO_VIDEOS)
    ap.add_argument("--seconds", type=float, default=HOWTO_SECONDS, help="of video, in all")
    ap.add_argument("--gpus-per-node", type=int, default=8)
    ap.add_argument("--cores-per-node", type=int, default=64)
    ap.add_argument("--out", default="results/bench/cost.json")
    args = ap.parse_args(argv)
    # every file's runs, each tagged with its file (the row names it)
    runs = []
    for path in args.training:
        data = load_json(path)
        date = data.get("meta", {}).get("date", "undated")
        runs += [{**r, "file": path, "date": date} for r in data.get("runs", [])]
    rates = []
    for path in args.extraction:
        data = load_json(path)
        rates += own_job_rates(data) + data.get("rates", [])
    result = build({"rates": rates}, runs, load_json(args.word2vec), args)
    write_result(args.out, result)
    print(markdown(result), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
