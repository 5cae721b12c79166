"""Generate the demo world: `python -m eao.demo --config config.yaml --out results/demo_world`.

Renders every planned video (in parallel, one single-threaded ffmpeg encoder per worker), then
writes each dataset's files in its public format and `world.json`, the full ground truth.
The listing files (videos.csv, caption.json, ...) are written after the videos, so a run that
was killed half way never looks finished.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor

from eao.demo import formats
from eao.demo.world import DATASETS, DemoConfig, World, plan_world
from eao.errors import ArgumentParser, BadInput, reading, run
from eao.io.config import read_config
from eao.progress import progress


def _render(args) -> str:
    from eao.demo.render import render_video

    task, video, cfg, path = args
    render_video(task, video, cfg, path, cfg.seed)
    return path


def generate(cfg: DemoConfig, out: str, workers: int = 1) -> World:
    world = plan_world(cfg)
    jobs = []
    for ds in DATASETS:
        folder = os.path.join(out, ds, "videos")
        shutil.rmtree(folder, ignore_errors=True)  # no stale videos of an earlier plan
        os.makedirs(folder)
        for v in world.videos[ds]:
            path = os.path.join(out, ds, formats.video_path(v))
            jobs.append((world.tasks[v.task], v, cfg, path))
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for _ in progress(pool.map(_render, jobs), "render demo videos", total=len(jobs)):
            pass
    formats.write_howto(os.path.join(out, "howto"), world)
    formats.write_youcook2(os.path.join(out, "youcook2"), world)
    formats.write_msrvtt(os.path.join(out, "msrvtt"), world)
    formats.write_crosstask(os.path.join(out, "crosstask"), world)
    formats.write_mining_youtube(os.path.join(out, "mining_youtube"), world, cfg.fps)
    for ds in DATASETS:
        formats.write_videos_csv(os.path.join(out, ds), world.videos[ds])
    formats.write_json(os.path.join(out, "world.json"), world.to_json())
    return world


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(
        prog="eao demo-world", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--config", help="workflow config YAML; its `demo:` section is used")
    ap.add_argument("--demo-json", help="the `demo:` section as JSON (what the rule passes)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    cfg = demo_config(args)  # before anything is written: a bad config leaves no half world
    world = generate(cfg, args.out, args.workers)
    for ds in DATASETS:
        vids = world.videos[ds]
        seconds = sum(v.duration for v in vids)
        print(
            f"{ds}: {len(vids)} videos, {seconds:.0f} s of video, "
            f"{sum(len(v.captions) for v in vids)} captions"
        )
    return 0


def demo_config(args: argparse.Namespace) -> DemoConfig:
    """--demo-json's object, or --config's `demo:` section, or the defaults; BadInput naming
    the option or file that is not one."""
    if not (args.demo_json or args.config):
        return DemoConfig()
    source = "--demo-json" if args.demo_json else args.config
    with reading(source):
        section = json.loads(args.demo_json) if args.demo_json else read_config(source).get("demo")
        if not isinstance(section, dict):
            raise BadInput("no `demo:` mapping to plan the world from", source)
        return DemoConfig.from_config(section)


if __name__ == "__main__":
    sys.exit(run(main, prog="eao demo-world"))
