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
import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch

import eao
from eao.checkpoints import model_record
from eao.data.benchmarks import (
    AUDIO_POOLING,
    STRATEGIES,
    clip_layout,
    retrieval_clips,
    segment_rows,
    video_rows,
)
from eao.data.corpus import FeatureTables
from eao.errors import ArgumentParser, run
from eao.evaluate.embed import embed_batches
from eao.evaluate.inputs import add_shard_options, inputs_provenance, load_inputs, start
from eao.evaluate.metrics import chance_metrics, metrics_for_tasks, similarity_tasks
from eao.ingest.manifest import split_videos
from eao.io.atomic import write_text_atomic
from eao.model.davenet import AUDIO_POOLING as AUDIO_POOLING_MODES

log = logging.getLogger("eao.retrieval")

LOGGED_TASKS = ("t2v", "t2va", "t2v+a")  # the tasks the log line shows (the JSON has all)


@dataclass(frozen=True)
class RetrievalSettings:
    """What is evaluated and how: the clips (`segments`: YouCook2, `videos`: MSR-VTT), their
    input lengths, the long-video strategy with its knobs (only the strategy's own are used),
    and the embedding batch. complete_size: the R@K denominator (None: the clips found), so
    clips without features count as misses. audio_pooling None: the strategy's (reference:
    nearest for uniform, max_pool for max_pool, to strategy_tokens tokens)."""

    clips: str
    video_tokens: int
    audio_frames: int
    max_words: int = 20
    batch_size: int = 64
    complete_size: int | None = None
    strategy: str = "at_once"
    strategy_tokens: int = 12
    clip_seconds: float = 8.0
    max_clips: int | None = None
    clip_frames: int | None = None
    audio_pooling: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RetrievalSettings:
        """The settings of `eao retrieval`'s options (same names)."""
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


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
    settings: RetrievalSettings,
    videos: list[str] | None = None,
    device: str = "cpu",
) -> dict:
    """Retrieval metrics of every task, chance, and the clip count of the clips of `videos`
    (None: every video of the tables), for one long-video strategy
    (eao.data.benchmarks.retrieval_clips)."""
    batch, row_ids = clip_batch(tables, settings, videos)
    pooling = settings.audio_pooling or AUDIO_POOLING[settings.strategy]
    out = embed_with_pooling(model, batch, settings, pooling, device)
    out, ids = average_embeddings(out, row_ids)
    sims = similarity_tasks({k: v for k, v in out.items() if k.endswith("_embed")})
    complete_size = settings.complete_size
    return {
        "clips": len(ids),
        "rows": len(row_ids),
        "complete_size": complete_size or len(ids),
        "chance": chance_metrics(len(ids), complete_size),
        "metrics": metrics_for_tasks(sims, complete_size=complete_size),
        "empty_text": _empty_inputs(out, "text"),
        "empty_audio": _empty_inputs(out, "audio"),
        "strategy": settings.strategy,
        "audio_pooling": pooling,
        "max_clips": _sub_clips(tables, settings),
    }


def clip_batch(
    tables: FeatureTables, settings: RetrievalSettings, videos: list[str] | None
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The model inputs of every clip's rows (several per clip for strategy `clips`) and the
    clip id of each row; ValueError with fewer than two clips (nothing to rank)."""
    if settings.clips == "segments":
        rows = segment_rows(tables, videos)
    else:
        rows = video_rows(tables, videos)
    batch, row_ids = retrieval_clips(
        tables,
        rows,
        settings.video_tokens,
        settings.audio_frames,
        settings.max_words,
        strategy=settings.strategy,
        strategy_tokens=settings.strategy_tokens,
        clip_seconds=settings.clip_seconds,
        max_clips=settings.max_clips,
        clip_frames=settings.clip_frames,
    )
    n_clips = len(set(row_ids))
    if n_clips < 2:
        raise ValueError(f"only {n_clips} clip(s) to retrieve from: nothing to rank")
    return batch, row_ids


def embed_with_pooling(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    settings: RetrievalSettings,
    pooling: str,
    device: str,
) -> dict[str, torch.Tensor]:
    """The model's outputs for the batch, its audio tokens pooled as the strategy wants; the
    model is left without pooling afterwards (the state it is loaded in)."""
    model.audio_pooling = (pooling, settings.strategy_tokens)
    try:
        return embed_batches(model, batch, settings.batch_size, device)
    finally:
        model.audio_pooling = ("none", 0)


def _empty_inputs(out: dict[str, torch.Tensor], modality: str) -> int | None:
    """How many clips had no input of the modality (None: the model has no such input)."""
    mask = out.get(f"{modality}_nonempty_input_mask")
    return None if mask is None else int((~mask).sum())


def _sub_clips(tables: FeatureTables, settings: RetrievalSettings) -> int | None:
    """Sub-clips per clip of the `clips` strategy (None for the others)."""
    if settings.strategy != "clips":
        return None
    n_clips, _, _ = clip_layout(
        tables,
        settings.video_tokens,
        settings.clip_seconds,
        settings.max_clips,
        settings.clip_frames,
    )
    return n_clips


def run_record(args: argparse.Namespace, ckpt: dict) -> dict:
    """What the result JSON records of the run beside the metrics: the model, the clips, the
    strategy's own settings (the others are argparse defaults, not the run's) and provenance."""
    strategy = args.strategy
    return dict(
        model=args.model,
        step=ckpt.get("step"),
        split=args.split,
        clips_from=args.clips,
        video_tokens=args.video_tokens,
        audio_frames=args.audio_frames,
        strategy_tokens=args.strategy_tokens if strategy in ("uniform", "max_pool") else None,
        clip_seconds=args.clip_seconds if strategy == "clips" else None,
        clip_frames=args.clip_frames if strategy == "clips" else None,
        provenance=inputs_provenance(args),
        eao_version=eao.__version__,
        **model_record(ckpt),  # an imported checkpoint's file and sha256
    )


def log_summary(result: dict) -> None:
    for task in LOGGED_TASKS:
        if task in result["metrics"]:
            values = [result["metrics"][task][k] for k in ("R1", "R5", "R10", "MedR")]
            log.info("%s: R@1 %.1f R@5 %.1f R@10 %.1f MedR %.1f", task, *values)
    chance = [result["chance"][k] for k in ("R1", "R5", "R10")]
    log.info("chance: R@1 %.1f R@5 %.1f R@10 %.1f (%d clips)", *chance, result["clips"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = ArgumentParser(
        prog="eao retrieval", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--model", required=True, help="a checkpoint of eao train (model.pt)")
    ap.add_argument("--manifest", required=True, help="the dataset's manifest (for the split)")
    ap.add_argument(
        "--split", help="evaluate the videos of this split only (e.g. validation, test)"
    )
    ap.add_argument("--clips", choices=["segments", "videos"], required=True)
    add_shard_options(ap)
    ap.add_argument("--video-tokens", type=int, required=True)
    ap.add_argument("--audio-frames", type=int, required=True)
    ap.add_argument("--max-words", type=int, default=20)
    ap.add_argument(
        "--complete-size", type=int, help="R@K denominator (missing clips count as misses)"
    )
    _add_strategy_options(ap)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", required=True)
    return ap.parse_args(argv)


def _add_strategy_options(ap: argparse.ArgumentParser) -> None:
    """--strategy (the paper's Table 6 long-video strategies) and the settings of each."""
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = start(args.threads, args.device)
    model, ckpt, tables = load_inputs(args, device)
    videos = split_videos(args.manifest, args.split)
    result = evaluate(model, tables, RetrievalSettings.from_args(args), videos, device)
    result.update(run_record(args, ckpt))
    log_summary(result)
    write_text_atomic(args.out, json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, prog="eao retrieval"))
