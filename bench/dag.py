"""DAG scale: how long `snakemake -n` takes for a HowTo100M-size workflow, and how many jobs it has.

    python bench/dag.py [--videos 1220000] [--shard-size 2000] [--out results/bench/dag.json]

Writes a synthetic videos CSV of `--videos` rows (no video files: a dry run never opens them)
for the pretraining corpus and the four benchmarks at their real sizes, a config that is
config.yaml with those datasets and the demo off, and dry-runs the workflow through the SLURM
profile (workflow/profiles/slurm, as a cluster user would) in a scratch directory. Baseline in
the same run: the same dry run with a 1,000-video corpus, i.e. the fixed cost of starting
snakemake and parsing the workflow. Prints and writes the wall times, the job counts per rule
and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meta import write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HOWTO100M_VIDEOS = 1_220_000
# Test/validation videos of the benchmarks (docs/benchmarks.md): the shards they add are few.
BENCHMARKS = {
    "youcook2": ("youcook2", 2000),
    "msrvtt": ("msrvtt", 10000),
    "crosstask": ("crosstask", 4700),
    "mining_youtube": ("mining_youtube", 250),
}


def write_videos(path: Path, n: int, prefix: str) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["video_id", "path"])
        out.writerows((f"{prefix}{i:08d}", f"videos/{prefix}{i:08d}.mp4") for i in range(n))


def synthetic_config(root: Path, n_videos: int, shard_size: int) -> Path:
    """config.yaml with the demo off and the datasets replaced by synthetic CSVs under root."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["demo"]["enabled"] = False
    config["shard_size"] = shard_size
    datasets = {"howto": (n_videos, "howto")}
    datasets.update({name: (n, fmt) for name, (fmt, n) in BENCHMARKS.items()})
    for name, (n, fmt) in datasets.items():
        folder = root / name
        folder.mkdir(parents=True)
        write_videos(folder / "videos.csv", n, name[:2])
        captions = folder / "captions"  # only has to exist: a dry run does not parse it
        captions.write_text("")
        entry = {"videos": str(folder / "videos.csv"), "root": str(folder)}
        entry["captions"] = str(captions)
        if name != "howto":
            entry["captions_format"] = fmt
        config.setdefault("datasets", {})[name] = entry  # config.yaml has none (the demo's)
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def dry_run(config: Path, workdir: Path) -> tuple[float, dict[str, int]]:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        "--profile",
        str(REPO / "workflow/profiles/slurm"),
        "--cores",
        "64",
        "--quiet",
        "rules",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"dry run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, job_counts(proc.stdout + proc.stderr)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count} (with 'total')."""
    table = output.split("Job stats:")[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


def measure(n_videos: int, shard_size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        config = synthetic_config(root / "data", n_videos, shard_size)
        write_seconds = time.perf_counter() - start
        (root / "work").mkdir()
        seconds, jobs = dry_run(config, root / "work")
    return {
        "videos": n_videos,
        "shard_size": shard_size,
        "dry_run_s": round(seconds, 2),
        "csv_write_s": round(write_seconds, 2),
        "jobs": jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=HOWTO100M_VIDEOS)
    parser.add_argument("--shard-size", type=int, default=2000)
    parser.add_argument("--out", default="results/bench/dag.json")
    args = parser.parse_args()
    baseline = measure(1000, args.shard_size)
    print(json.dumps({"baseline": baseline}), flush=True)
    full = measure(args.videos, args.shard_size)
    print(json.dumps({"howto100m": full}), flush=True)
    result = {
        "baseline": baseline,
        "howto100m": full,
        "ratio": round(full["dry_run_s"] / baseline["dry_run_s"], 2),
        "cpu_count": os.cpu_count(),
        "baseline_is": "the same dry run with a 1,000-video corpus (snakemake start-up, parsing)",
    }
    write_result(args.out, result)
    print(json.dumps({k: result[k] for k in ("ratio", "cpu_count")}))


if __name__ == "__main__":
    main()
