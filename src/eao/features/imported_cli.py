"""The command line of `eao import-features` (`python -m eao.features.imported`): its options
and the tables they name.
"""

from __future__ import annotations

import argparse

from eao.errors import ArgumentParser
from eao.features.imported_tables import ALL_BACKBONES, PICKLES, Outputs, results_layout


def pickle_args(values: list[str], ap: argparse.ArgumentParser) -> dict[str, str]:
    out = {}
    for text in values:
        name, sep, path = text.partition("=")
        if not sep or name not in PICKLES or not path:
            ap.error(f"--pickle {text}: expected NAME=PATH with NAME one of {', '.join(PICKLES)}")
        out[name] = path
    if "resnet" not in out:
        ap.error("--pickle resnet=PATH is required (ids, captions, 2D/3D and audio)")
    return out


def import_outputs(
    args: argparse.Namespace, pickles: dict[str, str], ap: argparse.ArgumentParser
) -> Outputs:
    """eao-pickle's tables: those --out names (the workflow's rules), or the parts of --only
    (default: every part) under --results's layout (by hand)."""
    if args.out:
        if args.results or args.only:
            ap.error("--out names every table written: no --results or --only with it")
        pairs = [text.partition("=") for text in args.out]
        if not all(sep and table and path for table, sep, path in pairs):
            ap.error("--out: expected TABLE=PATH")
        return {table: path for table, _, path in pairs}
    if not args.results:
        ap.error("--format eao-pickle needs --results DIR or --out TABLE=PATH")
    unknown = sorted(set(args.only or ()) - {"manifest", *ALL_BACKBONES})
    if unknown:
        ap.error(f"--only {', '.join(unknown)}: expected manifest or a backbone name")
    parts = args.only or ["manifest", *(b for name in pickles for b in PICKLES[name])]
    return results_layout(args.results, args.dataset, parts)


OPTION_HELP = {
    "--results": "write under this folder's layout (manifest/, probe/, features/)",
    "--out": "eao-pickle: write exactly these tables: manifest, captions, failures, probed, "
    "probe_failures (all five) and/or BACKBONE, BACKBONE_failures",
    "--probed": "eao-pickle: the probe table the shards' rows match (recorded in their "
    "metadata; default: the one written)",
    "--pickle": "eao-pickle: resnet=PATH (required), clip=PATH, s3d=PATH",
    "--only": "eao-pickle with --results: write only this part: manifest (manifest, captions, "
    "probe) or a backbone's shard (default: everything)",
    "--split": "eao-pickle: the split of every item (validation, test)",
    "--drop-missing-2d": "eao-pickle: drop items without 2D features (default: when the file "
    "uses the *_full keys, as YouCook2's)",
    "--features-dir": "s3d-npy: the folder of <id>.npy / .npz files",
    "--manifest": "s3d-npy: the dataset's manifest (videos.parquet)",
    "--shard": "s3d-npy: only these shards",
}


def parser(description: str) -> ArgumentParser:
    ap = ArgumentParser(
        prog="python -m eao.features.imported",
        description=description,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--format", required=True, choices=["eao-pickle", "s3d-npy"])
    h = OPTION_HELP
    ap.add_argument("--results", help=h["--results"])
    ap.add_argument("--out", action="append", metavar="TABLE=PATH", help=h["--out"])
    ap.add_argument("--probed", help=h["--probed"])
    pickle = {"action": "append", "default": [], "metavar": "NAME=PATH", "help": h["--pickle"]}
    ap.add_argument("--pickle", **pickle)
    ap.add_argument("--only", action="append", metavar="PART", help=h["--only"])
    ap.add_argument("--split", help=h["--split"])
    drop = argparse.BooleanOptionalAction
    ap.add_argument("--drop-missing-2d", action=drop, default=None, help=h["--drop-missing-2d"])
    ap.add_argument("--features-dir", help=h["--features-dir"])
    ap.add_argument("--manifest", help=h["--manifest"])
    ap.add_argument("--shard", type=int, action="append", help=h["--shard"])
    return ap
