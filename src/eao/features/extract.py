"""Extract the media features of one shard of probed videos: every requested backbone from one
decode per video, one Parquet shard (and one failures table) per backbone.

    python -m eao.features.extract --probed results/probe/howto/shard-00000.parquet \
        --backbone resnet152 --backbone resnext101 --backbone clip --backbone logmel \
        --weights resnet152=IMAGENET1K_V1 --weights resnext101=resnext101.pth \
        --out resnet152=results/features/resnet152/howto/shard-00000.parquet \
        --out-failures resnet152=results/features/resnet152/howto/failures-00000.parquet ...

Per-backbone options are NAME=VALUE; a bare value applies to every backbone (so one backbone
needs no prefixes: `--backbone clip --weights ViT-B/32 --out clip.parquet ...`).

Backbones and their rates (the reference extractors; docs/features.md):
  resnet152   2D, 1 frame/s, shorter side 224, no crop, layer4 mean     -> 2048-d, 1/s
  resnext101  3D, 24 fps, shorter side 112, centre crop 112, 16-frame clips -> 2048-d, 1.5/s
  clip        CLIP image embedding, 1 frame/s, 224 centre crop         -> 512-d, 1/s
  s3d         S3D (MIL-NCE), 16 fps, 224 centre crop, 32-frame windows  -> 1024-d, 1/s
              (--s3d-recipe, --s3d-output, --s3d-size: eao.backbones.s3d)
  logmel      16 kHz mono log-mel, 40 bands, 10 ms hop                  -> 40-d, 100/s
One ffmpeg process per video decodes it once for all of them (eao.io.fused), several videos
ahead of the models (--decoders); batches span videos. Visual rows are L2-normalised, float16.
A video that fails to decode becomes a failures row of each backbone it failed for; the rest
of the shard is extracted.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections import defaultdict

import numpy as np
import torch

from eao import __version__
from eao.backbones.s3d import OUTPUTS, RECIPES
from eao.devices import resolve_device
from eao.errors import ArgumentParser, BadInput, run
from eao.features.decoding import RESTART, Streams, decoded
from eao.features.shards import usable_rows, write_shard
from eao.features.visual import Batcher, S3DSettings, Visual, build_visual
from eao.io.decode import DecodeError
from eao.io.fused import AUDIO, DECODERS, AudioSpec, check_nvdec
from eao.io.parquet import FAILURES, table_from_rows, write_table
from eao.io.pipe import DEFAULT_STALL_TIMEOUT_S, stall_seconds
from eao.progress import progress

VISUAL = ("resnet152", "resnext101", "clip", "s3d")
BACKBONES = (*VISUAL, "logmel")
Result = tuple[dict[int, np.ndarray], dict[int, str]]  # features and errors by row index


def extract_media(
    rows: list[dict],
    visuals: dict[str, Visual],
    logmel: bool,
    batch_size: int,
    device: str,
    autocast: bool = False,
    decoders: int = 1,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
    decoder_threads: int = 0,
    decoder: str = "cpu",
    fallbacks: list[int] | None = None,
) -> dict[str, Result]:
    """Features by backbone: (n, dim) float16 unit rows per visual backbone, (T, 40) float16
    log-mel ((0, 40) for a video without audio); and each backbone's decode errors. The
    videos whose one-pass decode failed and that were decoded again one stream at a time (on
    the CPU) are appended to `fallbacks`."""
    streams = Streams(
        frames={n: v.frames for n, v in visuals.items()},
        chunks={n: v.chunk for n, v in visuals.items()},
        audio=AudioSpec() if logmel else None,
        stall_timeout_s=stall_timeout_s,
        decoder_threads=decoder_threads,
        decoder=decoder,
    )
    batchers = {n: Batcher(v, batch_size, device, autocast) for n, v in visuals.items()}
    names = [*visuals, *(["logmel"] if logmel else [])]
    errors: dict[str, dict[int, str]] = {n: {} for n in names}
    counts: dict[tuple, int] = defaultdict(int)  # (backbone, video, attempt) -> inputs so far
    attempt: dict[int, int] = defaultdict(int)
    waves: dict[int, list[np.ndarray]] = defaultdict(list)
    mels: dict[int, np.ndarray] = {}
    windowers: dict[tuple, object] = {}  # (backbone, video, attempt) -> its stateful windower
    fallbacks = [] if fallbacks is None else fallbacks

    def add(name: str, i: int, inputs: torch.Tensor) -> None:
        key = (name, i, attempt[i])
        batchers[name].add(key[1:], counts[key], inputs)
        counts[key] += len(inputs)

    # closing(): the decoder threads stop also when a model raises (else they wait forever)
    with contextlib.closing(decoded(rows, streams, decoders)) as items:
        for i, stream, item in progress(items, "extract"):
            name = "logmel" if stream == AUDIO else stream
            if item is RESTART:  # the fused decode failed: what it gave is dropped
                fallbacks.append(i)
                for batcher in batchers.values():
                    batcher.drop((i, attempt[i]))
                for key in [k for k in windowers if k[1] == i]:
                    del windowers[key]
                attempt[i] += 1
                waves.pop(i, None)
                for n in names:
                    errors[n].pop(i, None)
            elif item is None:  # the video is done
                if logmel and i not in errors["logmel"]:
                    mels[i] = _log_mel(waves.pop(i, []))
                for name in visuals:  # the windows still open at the video's end
                    windower = windowers.pop((name, i, attempt[i]), None)
                    if windower is not None and i not in errors[name]:
                        add(name, i, windower.finish())
            elif isinstance(item, DecodeError):
                if stream == AUDIO:
                    errors[name][i] = f"audio decode failed: {item}"
                    waves.pop(i, None)
                else:
                    errors[name][i] = str(item)
                    batchers[name].drop((i, attempt[i]))
                    windowers.pop((name, i, attempt[i]), None)
            elif stream == AUDIO:
                waves[i].append(item)
            elif visuals[name].windows is not None:
                key = (name, i, attempt[i])
                if key not in windowers:
                    windowers[key] = visuals[name].windows()
                add(name, i, windowers[key].push(item))
            else:
                add(name, i, visuals[name].to_inputs(item))
    results = {}
    for name, batcher in batchers.items():
        batcher.flush()
        features = {}
        for i in range(len(rows)):
            if i not in errors[name]:
                matrix = batcher.rows((i, attempt[i]), counts[(name, i, attempt[i])])
                if matrix is None:
                    errors[name][i] = "no frames decoded"
                else:
                    features[i] = matrix
        results[name] = (features, errors[name])
    if logmel:
        results["logmel"] = (mels, errors["logmel"])
    return results


def _log_mel(blocks: list[np.ndarray]) -> np.ndarray:
    from eao.features.logmel import log_mel

    if not blocks or sum(len(b) for b in blocks) == 0:
        return np.zeros((0, 40), np.float16)
    return log_mel(np.concatenate(blocks)).T.contiguous().numpy().astype(np.float16)


def extract_visual(
    rows: list[dict], vis: Visual, batch_size: int, device: str, **kwargs
) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """One visual backbone alone (the benchmarks' entry): features and decode errors."""
    return extract_media(rows, {vis.name: vis}, False, batch_size, device, **kwargs)[vis.name]


def per_backbone(values: list[str], backbones: list[str], option: str) -> dict[str, str]:
    """`--option NAME=VALUE` (or a bare VALUE for every backbone) -> {backbone: value}; a
    NAME=VALUE wins over a bare value, wherever each stands on the command line."""
    bare, named = {}, {}
    for text in values:
        name, sep, value = text.partition("=")
        if sep and name in BACKBONES:
            if name not in backbones:
                raise ValueError(f"{option} {text}: {name} is not a --backbone of this job")
            named[name] = value
        else:
            bare = dict.fromkeys(backbones, text)
    return bare | named


def _at_least(minimum: int):
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


def _even_at_least(minimum: int):
    """argparse type: an even integer >= minimum (S3D's stem folds 2x2 pixels)."""
    at_least = _at_least(minimum)

    def parse(text: str) -> int:
        value = at_least(text)
        if value % 2:
            raise argparse.ArgumentTypeError(f"expected an even integer, got {text!r}")
        return value

    return parse


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = ArgumentParser(prog="python -m eao.features.extract", description=__doc__,
                        formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    ap.add_argument("--backbone", action="append", required=True, choices=BACKBONES)
    ap.add_argument("--probed", required=True, help="probed manifest shard (Parquet)")
    ap.add_argument("--weights", action="append", default=[], metavar="[NAME=]WEIGHTS",
                    help="name, local path, or 'random' (default random)")  # fmt: skip
    ap.add_argument("--seed", action="append", default=[], metavar="[NAME=]SEED",
                    help="seed of random weights (default 0)")  # fmt: skip
    ap.add_argument("--s3d-recipe", default=S3DSettings.recipe, choices=sorted(RECIPES),
                    help="s3d windowing (eao.backbones.s3d)")  # fmt: skip
    ap.add_argument("--s3d-output", default=S3DSettings.output, choices=sorted(OUTPUTS),
                    help="s3d features: mixed_5c (1024-d) or video_embedding (512-d)")  # fmt: skip
    ap.add_argument("--s3d-size", type=_even_at_least(32), default=S3DSettings.size,
                    help="s3d input: square side in pixels (even; paper 224)")  # fmt: skip
    ap.add_argument("--batch-size", type=_at_least(1), default=64)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast on GPU")
    ap.add_argument("--threads", type=_at_least(1), default=1)
    ap.add_argument("--decoders", type=_at_least(0), default=0,
                    help="ffmpeg processes decoding ahead (default: --threads)")  # fmt: skip
    ap.add_argument("--decoder-threads", type=_at_least(0), default=0,
                    help="threads of each ffmpeg process (default: ffmpeg's choice)")  # fmt: skip
    ap.add_argument("--decoder", choices=DECODERS, default="cpu",
                    help="video decoder: cpu, or nvdec (the GPU's, through ffmpeg)")  # fmt: skip
    ap.add_argument("--stall-timeout-s", type=stall_seconds, default=DEFAULT_STALL_TIMEOUT_S,
                    help="kill an ffmpeg that wrote nothing for this long; the video becomes"
                         " a failures row")  # fmt: skip
    ap.add_argument("--out", action="append", required=True, metavar="[NAME=]PATH")
    ap.add_argument("--out-failures", action="append", required=True, metavar="[NAME=]PATH")
    args = ap.parse_args(argv)
    backbones = list(dict.fromkeys(args.backbone))
    try:
        weights = per_backbone(args.weights, backbones, "--weights")
        args.weights = dict.fromkeys(backbones, "random") | weights
        seeds = dict.fromkeys(backbones, "0") | per_backbone(args.seed, backbones, "--seed")
        args.seed = {b: int(s) for b, s in seeds.items()}
        args.out = per_backbone(args.out, backbones, "--out")
        args.out_failures = per_backbone(args.out_failures, backbones, "--out-failures")
    except ValueError as e:
        ap.error(str(e))
    for option in ("out", "out_failures"):
        missing = [b for b in backbones if b not in getattr(args, option)]
        if missing or len(set(getattr(args, option).values())) < len(backbones):
            flag = "--" + option.replace("_", "-")
            ap.error(f"{flag}: one path per backbone, NAME=PATH (missing or shared: "
                     f"{', '.join(missing) or 'a path given twice'})")  # fmt: skip
    args.backbone = backbones
    return args


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
    s3d = S3DSettings(args.s3d_recipe, args.s3d_output, args.s3d_size)
    visuals = {
        b: build_visual(b, args.weights[b], args.seed[b], device, s3d=s3d)
        for b in args.backbone
        if b != "logmel"
    }
    results = extract_media(
        rows, visuals, "logmel" in args.backbone, args.batch_size, device,
        autocast=args.bf16 and device == "cuda", decoders=args.decoders or args.threads,
        stall_timeout_s=args.stall_timeout_s, decoder_threads=args.decoder_threads,
        decoder=args.decoder, fallbacks=(fallbacks := []),
    )  # fmt: skip
    for i in fallbacks:
        print(f"  one-pass decode failed, decoded one stream at a time: {rows[i]['video_id']}")
    for backbone in args.backbone:
        features, errors = results[backbone]
        meta = {"table": f"features/{backbone}", "code_version": __version__,
                "probed": args.probed, "device": device}  # fmt: skip
        # the decoder and the videos the one-pass decode failed on (decoded again on the CPU)
        meta.update(decoder=args.decoder, fallback_videos=str(len(fallbacks)))
        if backbone == "logmel":
            meta.update(backbone="logmel", weights="none", sample_rate="16000",
                        frames_per_second="100")  # fmt: skip
            write_shard(args.out[backbone], rows, features, 0.01, 40, meta, audio=True)
        else:
            vis = visuals[backbone]
            meta.update(vis.provenance, features_per_second=f"{1 / vis.step_s:g}",
                        fps=f"{vis.frames.fps:g}")  # fmt: skip
            write_shard(args.out[backbone], rows, features, vis.step_s, vis.dim, meta)
        _write_failures(args.out_failures[backbone], backbone, rows, errors)
        print(f"{backbone}: {len(features)} videos extracted, {len(errors)} failed "
              f"({meta.get('weights')}, {device})")  # fmt: skip
        for i, err in sorted(errors.items()):
            print(f"  failed: {rows[i]['video_id']}: {err}")
    return 0


def _write_failures(path: str, backbone: str, rows: list[dict], errors: dict[int, str]) -> None:
    failures = [
        {"video_id": rows[i]["video_id"], "path": rows[i]["path"],
         "stage": f"extract_{backbone}", "error": err}  # fmt: skip
        for i, err in sorted(errors.items())
    ]
    write_table(table_from_rows(failures, FAILURES), path, {"table": "failures"})


if __name__ == "__main__":
    sys.exit(run(main, prog="python -m eao.features.extract"))
