"""`eao retrieval`: text-to-video retrieval of a trained model on a benchmark's feature shards.

    python -m eao.evaluate.retrieval --model results/pretrain/main/model.pt --manifest M \
        --split validation --clips segments --video-2d ... --text ... --out R.json

`--clips segments` (YouCook2): every caption segment of the split's videos is a clip (its window
of the video, its caption as the query). `--clips videos` (MSR-VTT): one clip per video, the whole
video, queried with its first caption. The JSON holds every retrieval task of the released code's
metric list (t2v, t2va, t2v+a, ...), the chance level of the same set, and what was evaluated:
the strategy and the provenance of every input kind (backbone, weights, seed, sha256).

`--strategy` picks the paper's Table 6 long-video strategy (eao.data.benchmarks.retrieval_clips):
at_once (first --video-tokens tokens / --audio-frames frames), uniform (the reference's
`nearest`) and max_pool (video to --strategy-tokens tokens; the model pools its audio tokens to
as many, as the reference's configs do), clips (--max-clips sub-clips of --clip-seconds each,
embedded separately and the embeddings averaged per clip).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence

import pyarrow.parquet as pq
import torch

import eao
from eao.checkpoints import load_model
from eao.data.benchmarks import (
    AUDIO_POOLING,
    STRATEGIES,
    clip_layout,
    retrieval_clips,
    segment_rows,
    video_rows,
)
from eao.data.corpus import FeatureTables
from eao.devices import resolve_device
from eao.errors import ArgumentParser, run
from eao.evaluate.embed import embed_batches
from eao.evaluate.metrics import chance_metrics, metrics_for_tasks, similarity_tasks
from eao.ingest.manifest import split_videos
from eao.io.atomic import write_text_atomic
from eao.model.davenet import AUDIO_POOLING as AUDIO_POOLING_MODES

log = logging.getLogger("eao.retrieval")

# Shard footer key -> provenance key (eao.backbones.weights.Provenance.as_metadata).
PROVENANCE_KEYS = {
    b"backbone": "backbone",
    b"weights": "weights",
    b"weights_seed": "seed",
    b"weights_sha256": "sha256",
}
INPUT_KINDS = ("video_2d", "video_3d", "audio", "text")  # --video-2d ... --text


def shard_provenance(paths: Sequence[str | os.PathLike]) -> dict | None:
    """What produced a kind's feature shards, from the Parquet footer of the first one
    (eao.backbones.weights.Provenance.as_metadata): backbone, weights, and seed / sha256 when
    recorded. None without shards. Shards that disagree are logged (mixed features)."""
    if not paths:
        return None
    found = [_provenance(p) for p in paths]
    if any(f != found[0] for f in found[1:]):
        log.warning("%s: shards of different provenance (first: %s)", paths[0], found[0])
    return found[0]


def _provenance(path: str | os.PathLike) -> dict:
    kv = pq.read_metadata(path).metadata or {}
    out = {name: kv[key].decode() for key, name in PROVENANCE_KEYS.items() if key in kv}
    if "seed" in out:
        out["seed"] = int(out["seed"])
    return out


def average_embeddings(
    outputs: dict[str, torch.Tensor], ids: Sequence[str]
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Outputs averaged over the rows sharing an id (reference `average_embeddings`: the raw,
    unnormalised embeddings of every type; the similarity normalises afterwards), one row per
    distinct id in first-appearance order, and those ids. Boolean outputs (the nonempty
    masks) are true when any row of the id is."""
    first_row: dict[str, int] = {}
    groups = torch.tensor([first_row.setdefault(i, len(first_row)) for i in ids])
    counts = torch.bincount(groups, minlength=len(first_row))
    out = {}
    for name, value in outputs.items():
        if value.dtype == torch.bool:
            hits = torch.zeros(len(first_row), *value.shape[1:], dtype=torch.long)
            out[name] = hits.index_add_(0, groups, value.long()) > 0
        else:
            total = torch.zeros(len(first_row), *value.shape[1:], dtype=value.dtype)
            total.index_add_(0, groups, value)
            out[name] = total / counts.view(-1, *[1] * (value.dim() - 1)).to(value.dtype)
    return out, list(first_row)


def evaluate(
    model: torch.nn.Module,
    tables: FeatureTables,
    clips: str,
    videos: list[str] | None,
    video_tokens: int,
    audio_frames: int,
    max_words: int,
    batch_size: int,
    complete_size: int | None,
    device: str = "cpu",
    strategy: str = "at_once",
    strategy_tokens: int = 12,
    clip_seconds: float = 8.0,
    max_clips: int | None = None,
    clip_frames: int | None = None,
    audio_pooling: str | None = None,
) -> dict:
    """Retrieval metrics of every task, chance, and the clip count, for one long-video
    strategy (eao.data.benchmarks.retrieval_clips). audio_pooling None: the strategy's
    (reference: nearest for uniform, max_pool for max_pool, to strategy_tokens tokens)."""
    rows = segment_rows(tables, videos) if clips == "segments" else video_rows(tables, videos)
    batch, row_ids = retrieval_clips(
        tables,
        rows,
        video_tokens,
        audio_frames,
        max_words,
        strategy=strategy,
        strategy_tokens=strategy_tokens,
        clip_seconds=clip_seconds,
        max_clips=max_clips,
        clip_frames=clip_frames,
    )
    n_clips = len(set(row_ids))
    if n_clips < 2:
        raise ValueError(f"only {n_clips} clip(s) to retrieve from: nothing to rank")
    pooling = audio_pooling or AUDIO_POOLING[strategy]
    model.audio_pooling = (pooling, strategy_tokens)
    try:
        out = embed_batches(model, batch, batch_size, device)
    finally:
        model.audio_pooling = ("none", 0)
    out, ids = average_embeddings(out, row_ids)
    sims = similarity_tasks({k: v for k, v in out.items() if k.endswith("_embed")})
    return {
        "clips": len(ids),
        "rows": len(row_ids),
        "complete_size": complete_size or len(ids),
        "chance": chance_metrics(len(ids), complete_size),
        "metrics": metrics_for_tasks(sims, complete_size=complete_size),
        "empty_text": int((~out["text_nonempty_input_mask"]).sum())
        if "text_nonempty_input_mask" in out
        else None,
        "empty_audio": int((~out["audio_nonempty_input_mask"]).sum())
        if "audio_nonempty_input_mask" in out
        else None,
        "strategy": strategy,
        "audio_pooling": pooling,
        "max_clips": clip_layout(tables, video_tokens, clip_seconds, max_clips, clip_frames)[0]
        if strategy == "clips"
        else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="eao retrieval", description=__doc__,
                        formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", required=True, help="a checkpoint of eao train (model.pt)")
    ap.add_argument("--manifest", required=True, help="the dataset's manifest (for the split)")
    ap.add_argument(
        "--split", help="evaluate the videos of this split only (e.g. validation, test)"
    )
    ap.add_argument("--clips", choices=["segments", "videos"], required=True)
    ap.add_argument("--video-2d", nargs="*", default=[])
    ap.add_argument("--video-3d", nargs="*", default=[])
    ap.add_argument("--audio", nargs="*", default=[])
    ap.add_argument("--text", nargs="+", required=True)
    ap.add_argument("--video-tokens", type=int, required=True)
    ap.add_argument("--audio-frames", type=int, required=True)
    ap.add_argument("--max-words", type=int, default=20)
    ap.add_argument(
        "--complete-size", type=int, help="R@K denominator (missing clips count as misses)"
    )
    ap.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="at_once",
        help="long-video strategy (paper Table 6); uniform = the reference's nearest",
    )
    ap.add_argument(
        "--strategy-tokens",
        type=int,
        default=12,
        help="uniform/max_pool: video tokens, and audio tokens the model pools to",
    )
    ap.add_argument("--clip-seconds", type=float, default=8.0, help="clips: sub-clip length")
    ap.add_argument(
        "--max-clips",
        type=int,
        help="clips: sub-clips per clip (default: video tokens / tokens per sub-clip)",
    )
    ap.add_argument(
        "--clip-frames",
        type=int,
        help="clips: audio frames per sub-clip, the training clip's (default: the whole 64-frame "
        "audio tokens inside --clip-seconds, 768 for 8 s)",
    )
    ap.add_argument(
        "--audio-pooling",
        choices=AUDIO_POOLING_MODES,
        help="audio-token pooling of the model (default: the strategy's)",
    )
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)

    model, ckpt = load_model(args.model)
    model.to(device)
    tables = FeatureTables(
        video_2d=args.video_2d, video_3d=args.video_3d, audio=args.audio, text=args.text
    )
    result = evaluate(
        model,
        tables,
        args.clips,
        split_videos(args.manifest, args.split),
        args.video_tokens,
        args.audio_frames,
        args.max_words,
        args.batch_size,
        args.complete_size,
        device,
        strategy=args.strategy,
        strategy_tokens=args.strategy_tokens,
        clip_seconds=args.clip_seconds,
        max_clips=args.max_clips,
        clip_frames=args.clip_frames,
        audio_pooling=args.audio_pooling,
    )
    result.update(
        model=args.model,
        step=ckpt.get("step"),
        split=args.split,
        clips_from=args.clips,
        video_tokens=args.video_tokens,
        audio_frames=args.audio_frames,
        # only the settings the strategy uses (the others are argparse defaults, not the run's)
        strategy_tokens=args.strategy_tokens if args.strategy in ("uniform", "max_pool") else None,
        clip_seconds=args.clip_seconds if args.strategy == "clips" else None,
        clip_frames=args.clip_frames if args.strategy == "clips" else None,
        provenance={kind: shard_provenance(getattr(args, kind)) for kind in INPUT_KINDS},
        eao_version=eao.__version__,
    )
    for task in ("t2v", "t2va", "t2v+a"):
        if task in result["metrics"]:
            m = result["metrics"][task]
            log.info(
                "%s: R@1 %.1f R@5 %.1f R@10 %.1f MedR %.1f",
                task,
                m["R1"],
                m["R5"],
                m["R10"],
                m["MedR"],
            )
    log.info(
        "chance: R@1 %.1f R@5 %.1f R@10 %.1f (%d clips)",
        result["chance"]["R1"],
        result["chance"]["R5"],
        result["chance"]["R10"],
        result["clips"],
    )
    write_text_atomic(args.out, json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, prog="eao retrieval"))
