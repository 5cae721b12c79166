"""Extract the media features of one shard of probed videos: every requested backbone from one
decode per video, one Parquet shard (and one failures table) per backbone.

    python -m eao.features.extract --probed results/probe/howto/shard-00000.parquet \\
        --backbone resnet152 --backbone logmel --weights resnet152=IMAGENET1K_V1 \\
        --out resnet152=results/features/resnet152/howto/shard-00000.parquet \\
        --out-failures resnet152=results/features/resnet152/howto/failures-00000.parquet ...

Per-backbone options are NAME=VALUE; a bare value applies to every backbone (so one backbone
needs no prefixes: `--backbone clip --weights ViT-B/32 --out clip.parquet ...`). A backbone's
own settings are `--NAME-KEY VALUE` (eao.backbones.<module>'s SPEC declares them).

One ffmpeg process per video decodes it once for all of them (eao.io.fused), several videos
ahead of the models (--decoders); batches span videos. Visual rows are L2-normalised, float16.
A video that fails to decode becomes a failures row of each backbone it failed for; the rest
of the shard is extracted.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable

import numpy as np
import torch

from eao import __version__
from eao.backbones.registry import backbone, backbones
from eao.backbones.spec import Audio, Visual
from eao.devices import resolve_device
from eao.errors import ArgumentParser, BadInput, run
from eao.features.decoding import RESTART, Streams, decoded
from eao.features.extraction import Extraction, Result
from eao.features.shards import usable_rows, write_shard
from eao.features.visual import build_visual
from eao.io.decode import DecodeError
from eao.io.fused import AUDIO, DECODERS, AudioSpec, check_nvdec
from eao.io.parquet import FAILURES, table_from_rows, write_table
from eao.io.pipe import DEFAULT_STALL_TIMEOUT_S, stall_seconds
from eao.progress import progress

Extractor = Visual | Audio


def extract_media(
    rows: list[dict],
    extractors: dict[str, Extractor],
    batch_size: int,
    device: str,
    autocast: bool = False,
    decoders: int = 1,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
    decoder_threads: int = 0,
    decoder: str = "cpu",
    fallbacks: list[int] | None = None,
) -> dict[str, Result]:
    """Features by backbone: (n, dim) float16 unit rows per visual backbone, (T, dim) float16
    rows per audio one ((0, dim) for a video without audio); and each backbone's decode errors.
    The videos whose one-pass decode failed and that were decoded again one stream at a time (on
    the CPU) are appended to `fallbacks`."""
    visuals = {n: e for n, e in extractors.items() if isinstance(e, Visual)}
    audios = {n: e for n, e in extractors.items() if isinstance(e, Audio)}
    streams = Streams(
        frames={n: v.frames for n, v in visuals.items()},
        chunks={n: v.chunk for n, v in visuals.items()},
        audio=AudioSpec() if audios else None,
        stall_timeout_s=stall_timeout_s,
        decoder_threads=decoder_threads,
        decoder=decoder,
    )
    state = Extraction(visuals, audios, batch_size, device, autocast)
    # closing(): the decoder threads stop also when a model raises (else they wait forever)
    with contextlib.closing(decoded(rows, streams, decoders)) as items:
        for i, stream, item in progress(items, "extract"):
            if item is RESTART:  # the fused decode failed: what it gave is dropped
                state.restart(i)
            elif item is None:  # the video is done
                state.done(i)
            elif isinstance(item, DecodeError):
                state.failed(i, stream, item)
            elif stream == AUDIO:
                state.audio(i, item)
            else:
                state.frames(i, stream, item)
    if fallbacks is not None:
        fallbacks.extend(state.fallbacks)
    return state.results(len(rows))


def extract_visual(
    rows: list[dict], vis: Visual, batch_size: int, device: str, **kwargs
) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """One visual backbone alone (the benchmarks' entry): features and decode errors."""
    return extract_media(rows, {vis.name: vis}, batch_size, device, **kwargs)[vis.name]


def build_extractor(name: str, settings: dict, device: str) -> Extractor:
    """The registered backbone `name` with its settings, speed-ups applied to a visual one."""
    spec = backbone(name)
    if spec.kind == "audio":
        return spec.build(spec.defaults() | settings, device)
    own = {k: v for k, v in settings.items() if k not in ("weights", "seed")}
    weights, seed = settings.get("weights", "random"), settings.get("seed", 0)
    return build_visual(name, weights, seed, device, settings=own)


def per_backbone(values: list[str], names: list[str], option: str) -> dict[str, str]:
    """`--option NAME=VALUE` (or a bare VALUE for every backbone) -> {backbone: value}; a
    NAME=VALUE wins over a bare value, wherever each stands on the command line."""
    bare, named = {}, {}
    for text in values:
        name, sep, value = text.partition("=")
        if sep and name in backbones():
            if name not in names:
                raise ValueError(f"{option} {text}: {name} is not a --backbone of this job")
            named[name] = value
        else:
            bare = dict.fromkeys(names, text)
    return bare | named


def _at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer >= minimum (else one line and exit 2, not a traceback)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


def _setting_type(parse: Callable[[str], object]) -> Callable[[str], object]:
    """argparse type from a Setting's parser: its ValueError becomes one line, exit 2."""

    def parsed(text: str) -> object:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parsed


def _catalogue() -> str:
    """The registered backbones for --help: name, kind, rows per second, size."""
    lines = ["backbones (eao.backbones.registry):"]
    for spec in backbones().values():
        rate = f"{1 / spec.step_s:g}/s"
        lines.append(f"  {spec.name:<12} {spec.kind:<6} {rate:>6} {spec.dim:>5}-d  {spec.summary}")
    return "\n".join(lines)


def _add_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--backbone", action="append", required=True, choices=list(backbones()))
    ap.add_argument("--probed", required=True, help="probed manifest shard (Parquet)")
    per_name = {"metavar": "[NAME=]VALUE", "action": "append", "default": []}
    ap.add_argument("--weights", help="name, local path, or 'random' (default)", **per_name)
    ap.add_argument("--seed", help="seed of random weights (default 0)", **per_name)
    for spec in backbones().values():
        for s in spec.settings:
            ap.add_argument(
                f"--{spec.name}-{s.key}",
                type=_setting_type(s.parse),
                default=s.default,
                help=f"{spec.name}: {s.schema['description']}",
            )
    ap.add_argument("--batch-size", type=_at_least(1), default=64)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast on GPU")
    ap.add_argument("--threads", type=_at_least(1), default=1)
    ap.add_argument(
        "--decoders", type=_at_least(0), default=0, help="ffmpeg processes ahead (default: threads)"
    )
    ap.add_argument(
        "--decoder-threads", type=_at_least(0), default=0, help="threads of each ffmpeg process"
    )
    ap.add_argument(
        "--decoder", choices=DECODERS, default="cpu", help="cpu, or nvdec (the GPU's, via ffmpeg)"
    )
    ap.add_argument(
        "--stall-timeout-s",
        type=stall_seconds,
        default=DEFAULT_STALL_TIMEOUT_S,
        help="kill an ffmpeg that wrote nothing for this long; the video becomes a failures row",
    )
    ap.add_argument("--out", action="append", required=True, metavar="[NAME=]PATH")
    ap.add_argument("--out-failures", action="append", required=True, metavar="[NAME=]PATH")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = ArgumentParser(
        prog="python -m eao.features.extract",
        description=f"{__doc__}\n{_catalogue()}",
        formatter_class=argparse.RawTextHelpFormatter,
    )
    _add_options(ap)
    args = ap.parse_args(argv)
    names = list(dict.fromkeys(args.backbone))
    try:
        weights = dict.fromkeys(names, "random") | per_backbone(args.weights, names, "--weights")
        seeds = dict.fromkeys(names, "0") | per_backbone(args.seed, names, "--seed")
        args.out = per_backbone(args.out, names, "--out")
        args.out_failures = per_backbone(args.out_failures, names, "--out-failures")
    except ValueError as e:
        ap.error(str(e))
    for option in ("out", "out_failures"):
        paths = getattr(args, option)
        missing = [b for b in names if b not in paths]
        if missing or len(set(paths.values())) < len(names):
            shown = ", ".join(missing) or "a path given twice"
            ap.error(f"--{option.replace('_', '-')}: one path per backbone, NAME=PATH ({shown})")
    args.backbone = names
    args.settings = {b: _settings(args, b, weights[b], seeds[b], ap) for b in names}
    return args


def _settings(args, name: str, weights: str, seed: str, ap: ArgumentParser) -> dict:
    """One backbone's settings from the command line: weights and seed, then its own."""
    spec = backbone(name)
    settings = {}
    if spec.weighted:
        try:
            settings = {"weights": weights, "seed": int(seed)}
        except ValueError:
            ap.error(f"--seed {name}={seed}: not an integer")
    own = {s.key: getattr(args, f"{name}_{s.key}".replace("-", "_")) for s in spec.settings}
    return settings | own


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rows = usable_rows(args.probed)
    if args.decoder == "nvdec" and rows:  # a GPU decoder that cannot work is a setup error,
        try:  # not a shard of fallbacks to the CPU
            check_nvdec(rows[0]["path"])
        except DecodeError as e:
            raise BadInput(f"--decoder nvdec does not work here: {e}", rows[0]["path"]) from None
    extractors = {b: build_extractor(b, args.settings[b], device) for b in args.backbone}
    results = extract_media(
        rows,
        extractors,
        args.batch_size,
        device,
        autocast=args.bf16 and device == "cuda",
        decoders=args.decoders or args.threads,
        stall_timeout_s=args.stall_timeout_s,
        decoder_threads=args.decoder_threads,
        decoder=args.decoder,
        fallbacks=(fallbacks := []),
    )
    for i in fallbacks:
        print(f"  one-pass decode failed, decoded one stream at a time: {rows[i]['video_id']}")
    run_meta = {"code_version": __version__, "probed": args.probed, "device": device}
    # the decoder and the videos the one-pass decode failed on (decoded again on the CPU)
    run_meta.update(decoder=args.decoder, fallback_videos=str(len(fallbacks)))
    for name in args.backbone:
        _write(args, name, rows, extractors[name], results[name], run_meta)
    return 0


def _write(args, name: str, rows: list[dict], ext: Extractor, result: Result, run_meta: dict):
    """One backbone's shard and failures table, and its summary in the log."""
    features, errors = result
    meta = {"table": backbone(name).table, **run_meta, **ext.metadata()}
    audio = isinstance(ext, Audio)
    write_shard(args.out[name], rows, features, ext.step_s, ext.dim, meta, audio=audio)
    _write_failures(args.out_failures[name], name, rows, errors)
    print(
        f"{name}: {len(features)} videos extracted, {len(errors)} failed "
        f"({meta.get('weights')}, {run_meta['device']})"
    )
    for i, err in sorted(errors.items()):
        print(f"  failed: {rows[i]['video_id']}: {err}")


def _write_failures(path: str, name: str, rows: list[dict], errors: dict[int, str]) -> None:
    failures = [
        {
            "video_id": rows[i]["video_id"],
            "path": rows[i]["path"],
            "stage": f"extract_{name}",
            "error": err,
        }
        for i, err in sorted(errors.items())
    ]
    write_table(table_from_rows(failures, FAILURES), path, {"table": "failures"})


if __name__ == "__main__":
    sys.exit(run(main, prog="python -m eao.features.extract"))
