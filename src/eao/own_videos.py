"""`eao index FOLDER`: make a folder of your own videos searchable in one command.

    eao index ~/videos/kitchen --cores 8
    eao search results/index/kitchen.parquet "crack the eggs into a bowl" -k 5

It does what README "Your own videos" describes by hand: it lists the folder's video files in a
videos CSV, adds the folder as a dataset to the run's config (an extra config file beside the
CSV) and asks the workflow for `results/index/<name>.parquet` and the failures table. So probing,
every extractor the main model needs, its failures rows, resumption after a kill and the index
itself are the workflow's own rules; this module only writes two small files and calls
snakemake. The model is the run's main model (`results/pretrain/main/model.pt`, trained or
imported by the config); this command never trains one unless asked (`--allow-training`).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from eao.demo.world import DATASETS as DEMO_DATASETS
from eao.errors import ArgumentParser, BadInput, run
from eao.io.atomic import write_text_atomic
from eao.io.config import read_config

# What ffmpeg reads and people keep videos in; anything else in the folder is left alone.
VIDEO_SUFFIXES = {
    *(".mp4", ".m4v", ".mkv", ".webm", ".mov"),  # today's containers
    *(".avi", ".mpg", ".mpeg", ".flv", ".wmv"),  # older ones
    *(".ts", ".3gp", ".ogv"),  # broadcast, phones, Ogg
}
MODEL = "results/pretrain/main/model.pt"


def read_earlier(csv_path: Path) -> dict[Path, str]:
    """path -> video_id of an earlier run's videos CSV, in its order ({} when there is none)."""
    if not csv_path.is_file():
        return {}
    with open(csv_path, newline="", encoding="utf-8") as f:
        return {Path(row["path"]): row["video_id"] for row in csv.DictReader(f)}


def keep_order(videos: list[Path], earlier: dict[Path, str]) -> list[Path]:
    """The videos of an earlier run first, in their order, then the new ones: the workflow's
    shards are blocks of CSV rows, so videos added to the folder only extend the last shards."""
    present = set(videos)
    kept = [v for v in earlier if v in present]
    seen = set(kept)
    return kept + [v for v in videos if v not in seen]


def write_if_changed(path: Path, text: str) -> None:
    # An unchanged file keeps its modification time, so snakemake sees nothing to redo.
    if not (path.is_file() and path.read_text(encoding="utf-8") == text):
        write_text_atomic(path, text)


def find_videos(folder: Path) -> list[Path]:
    """Video files under folder (recursively, hidden files and folders skipped), sorted, so the
    same folder always gives the same shards."""
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(p.startswith(".") for p in rel.parts) or path.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        if path.is_file():
            found.append(rel)
    return sorted(found, key=lambda p: p.as_posix())


def video_ids(videos: list[Path], earlier: dict[Path, str] | None = None) -> list[str]:
    """The path without its suffix (`kitchen/eggs`); where two files differ only by suffix, both
    keep it (`eggs.mp4`, `eggs.mkv`), so ids stay unique and readable. A video of an earlier run
    keeps the id it had there, so its features and index rows keep their meaning."""
    earlier = earlier or {}
    stems = [v.with_suffix("").as_posix() for v in videos]
    clash = {s for s, n in Counter(stems).items() if n > 1}
    ids = [
        earlier.get(v) or (v.as_posix() if s in clash else s)
        for v, s in zip(videos, stems, strict=True)
    ]
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise BadInput(f"two videos would share the id {repeated[0]!r}: rename one")
    return ids


def videos_csv(videos: list[Path], earlier: dict[Path, str] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["video_id", "path"])
    writer.writerows(zip(video_ids(videos, earlier), (v.as_posix() for v in videos), strict=True))
    return out.getvalue()


def dataset_name(folder: Path) -> str:
    """A dataset name from the folder's name: letters, digits and underscores (the config's
    rule for dataset names)."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", folder.resolve().name).strip("_")
    return name or "videos"


def overlay_config(name: str, csv_path: Path, folder: Path) -> dict:
    """The config added on top of the run's: the folder as a dataset, indexed. Snakemake merges
    it into the base config key by key, so the index settings (window, stride) stay the base's."""
    return {
        "datasets": {name: {"videos": str(csv_path.resolve()), "root": str(folder.resolve())}},
        "index": {"datasets": [name]},
    }


def default_snakefile() -> Path:
    """The Snakefile in the current folder, else the repository this package is installed from
    (an editable install, as `make setup` does)."""
    here = Path("Snakefile")
    if here.is_file():
        return here.resolve()
    return Path(__file__).resolve().parents[2] / "Snakefile"


def snakemake_command(args: argparse.Namespace, base: Path, overlay: Path, name: str) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(args.snakefile)]
    cmd += ["--directory", str(args.directory), "--configfile", str(base), str(overlay)]
    cmd += ["--cores", str(args.cores)]
    cmd += [f"results/index/{name}.parquet", f"results/failures/{name}.tsv"]  # the targets
    if not args.allow_training:
        # Only modification times decide what is out of date: a config or code change since the
        # model was trained must not make this command retrain it.
        cmd += ["--rerun-triggers", "mtime"]
    return cmd + args.snakemake


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(
        prog="eao index",
        description="Probe, extract and embed every video under FOLDER with the run's main "
        "model, and write results/index/<name>.parquet for `eao search` (through the workflow).",
        epilog="Arguments after -- go to snakemake (e.g. -- --profile workflow/profiles/slurm).",
    )
    ap.add_argument("folder", type=Path, help="a folder of videos (searched recursively)")
    ap.add_argument("--name", help="dataset name (default: the folder's name)")
    ap.add_argument(
        "--directory",
        type=Path,
        default=Path("."),
        help="the run's working folder, holding results/ (default: here)",
    )
    ap.add_argument(
        "--configfile", type=Path, help="the run's config (default: DIRECTORY/config.yaml)"
    )
    ap.add_argument("--snakefile", type=Path, default=default_snakefile())
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument(
        "--allow-training",
        action="store_true",
        help="let the workflow pretrain the main model if it is missing or stale",
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    # Split at `--` by hand: argparse gives a trailing nargs="*" positional nothing once options
    # follow FOLDER (`eao index F --cores 2 -- --profile p` would be refused).
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    args.snakemake = argv[cut + 1 :]
    name, base, overlay = prepare(args)
    cmd = snakemake_command(args, base, overlay, name)
    print("eao index: running " + " ".join(cmd), flush=True)
    if subprocess.run(cmd).returncode != 0:
        print(
            f"eao index: the workflow failed; its logs are in {args.directory / 'logs'}",
            file=sys.stderr,
        )
        return 1
    summarise(args.directory, name)
    return 0


def prepare(args: argparse.Namespace) -> tuple[str, Path, Path]:
    """Check the inputs and write the videos CSV and the config overlay; (name, base, overlay)."""
    folder: Path = args.folder
    if not folder.is_dir():
        raise BadInput("not a folder", folder)
    videos = find_videos(folder)
    if not videos:
        kinds = " ".join(sorted(VIDEO_SUFFIXES))
        raise BadInput(f"no video files in it (looked for {kinds})", folder)
    if not args.snakefile.is_file():
        raise BadInput("no Snakefile (run from the repository or pass --snakefile)", args.snakefile)
    base = args.configfile or args.directory / "config.yaml"
    if not base.is_file():
        raise BadInput("no config (pass --configfile)", base)
    name = args.name or dataset_name(folder)
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise BadInput("use letters, digits and underscores", f"--name {name!r}")
    # The Snakefile's own `configfile:` (DIRECTORY/config.yaml) is loaded too, under --configfile:
    # a name taken in either would merge the folder into that dataset; with the demo on (the
    # later file deciding), one of the demo's would replace that demo dataset.
    imported, demo = None, False
    for path in dict.fromkeys([args.directory / "config.yaml", base]):
        config = read_config(path) if path.is_file() else {}
        if name in (config.get("datasets") or {}):
            raise BadInput(f"{path} already has a dataset {name!r}: pass another --name")
        imported = (config.get("pretrain") or {}).get("checkpoint") or imported
        demo = (config.get("demo") or {}).get("enabled", demo)
    if demo and name in DEMO_DATASETS:
        raise BadInput(f"{name!r} is a dataset of the demo world (demo.enabled): another --name")
    model = args.directory / MODEL
    if not (model.is_file() or imported or args.allow_training):
        raise BadInput(
            f"no trained model at {model}: run the workflow first (`make demo`, or snakemake "
            "with your config), set pretrain.checkpoint to a released model, or pass "
            "--allow-training to let this command pretrain one"
        )
    own = args.directory / "results" / "own_videos" / name
    csv_path = own / "videos.csv"
    earlier = read_earlier(csv_path)
    write_if_changed(csv_path, videos_csv(keep_order(videos, earlier), earlier))
    overlay = own / "config.yaml"
    write_if_changed(overlay, yaml.safe_dump(overlay_config(name, csv_path, folder)))
    print(f"eao index: {len(videos)} videos in {folder} -> dataset {name!r} ({csv_path})")
    return name, base.resolve(), overlay.resolve()


def summarise(directory: Path, name: str) -> None:
    index = directory / "results" / "index" / f"{name}.parquet"
    if not index.is_file():  # a dry run (-- -n) or --until: nothing built yet
        print(f"eao index: {index} not built by this run")
        return
    table = pq.read_table(index, columns=["video_id"])
    failures = pq.read_table(directory / "results" / "failures" / f"{name}.parquet").to_pylist()
    print(
        f"eao index: {len(table)} windows of {len(set(table['video_id'].to_pylist()))} videos "
        f"-> {index}"
    )
    for row in failures:
        print(f"  skipped {row.get('video_id')}: {row.get('stage')}: {row.get('error')}")
    if failures:
        print(f"  ({len(failures)} skipped; the table: results/failures/{name}.tsv)")
    print(f'search it: eao search {index} "your query" -k 5')


if __name__ == "__main__":
    sys.exit(run(main, prog="eao index"))
