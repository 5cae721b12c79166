"""`eao localize`: zero-shot step localization of a model on CrossTask or Mining YouTube
(rule evaluate_localization; paper Sec. 4.4 and supplement A.2).

    python -m eao.evaluate.localize --benchmark crosstask --model results/pretrain/main/model.pt \
        --annotations .../crosstask_release/tasks_primary.txt --video-2d ... --text ... --out L.json

Per test video: one 3-s window per second (radius 1 s around each 1-s frame), the fused `va`
embedding of each window (`v` for a model without audio), the text embedding of each step query
(the text table's segments of the video: the task's steps for CrossTask, the annotated
occurrences for Mining YouTube), S = cosine similarities (T windows x K steps).
- Recall: the ordered DP of CrossTask (`dp.pyx`) picks one frame per step. CrossTask scores the
  raw similarities; Mining YouTube a log-softmax over the video's steps per window (MCN's
  `eval_cross.py`). CrossTask: recall pooled per task (official, primary) and the per-video mean
  (MCN), both averaged over tasks; Mining YouTube: both over all videos.
- Segmentation (IoU / IoD, supplement Table 2): log softmax(S / temperature) over every step text
  of the dataset (`--softmax-over dataset`, the paper's "across all labels over all videos") or the
  video's own; the video's steps in their given order aligned to the frames (eao.evaluate.
  alignment.ordered_alignment), background frames scoring the uniform log-probability
  log(1/C) (`--background uniform`) or none, C = the number of texts the softmax runs over
  (the dataset's step texts, or the video's K steps with `--softmax-over video`), so a frame
  is background when no step of the video beats chance; IoU/IoD per entry matched by position.
- Short videos (fewer windows than steps, T < K) are scored like every other: no frame is
  predicted, so their annotated steps count as misses and their entries as IoU = IoD = 0, as
  CrossTask's own evaluation counts them. `--skip-short-videos` leaves them out instead.
  T = K gives step k at window k (the identity). The output's `short_videos` says how many
  there were and how they were counted.
- Chance: the same pipeline on uniform random scores (`--chance-draws` draws, seeded).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence

import numpy as np
import torch

import eao
from eao.checkpoints import model_record
from eao.data.benchmarks import query_rows, window_clips
from eao.data.corpus import FeatureTables
from eao.errors import ArgumentParser, run
from eao.evaluate.alignment import (
    crosstask_dp,
    crosstask_recall,
    log_softmax,
    ordered_alignment,
    predict_steps,
    segmentation_scores,
)
from eao.evaluate.embed import embed_batches
from eao.evaluate.inputs import add_shard_options, inputs_provenance, load_inputs, start
from eao.evaluate.metrics import cosine_similarity
from eao.evaluate.step_annotations import test_items
from eao.ingest import crosstask
from eao.io.atomic import write_text_atomic
from eao.progress import progress

log = logging.getLogger("eao.localize")

BENCHMARKS = ("crosstask", "mining_youtube")
# The options the result JSON records under `settings`, in this order.
SETTINGS = (
    "video_tokens",
    "audio_frames",
    "radius",
    "temperature",
    "softmax_over",
    "background",
    "steps",
    "exclude_val",
    "test_list",
    "skip_short_videos",
)


def embed_video(
    model: torch.nn.Module, tables: FeatureTables, vid: str, args: argparse.Namespace
) -> torch.Tensor:
    """(T, D) window embeddings of a video: fused va, or v for a model without audio."""
    batch, _ = window_clips(tables, vid, args.video_tokens, args.audio_frames, radius=args.radius)
    out = embed_batches(model, batch, args.batch_size, args.device)
    return out["va_embed"] if "va_embed" in out else out["video_embed"]


def embed_queries(
    model: torch.nn.Module, tables: FeatureTables, vid: str, args: argparse.Namespace
) -> torch.Tensor:
    """Text embeddings of the video's caption segments in segment order, one row each: the
    step queries (an item's `query` picks its steps' rows)."""
    batch = query_rows(tables, vid, args.max_words)
    return embed_batches(model, batch, args.batch_size, args.device)["text_embed"]


def recall_prediction(benchmark: str, scores: np.ndarray) -> np.ndarray:
    """The frame the DP picks per step: on the raw similarities (CrossTask), on a log-softmax
    over the video's steps per window (Mining YouTube, MCN's `eval_cross.py`)."""
    if benchmark == "crosstask":
        return predict_steps(scores)
    return crosstask_dp(-log_softmax(scores, 1.0))


def background_log_prob(background: str, n_classes: int | None, n_steps: int) -> float | None:
    """Score of a background frame in the ordered alignment: None for `none`, else the uniform
    log-probability log(1/C) over the C texts the softmax ran over: `n_classes` (the dataset's
    step texts) or, when that is 0 / None (softmax over the video), the video's n_steps."""
    if background == "none":
        return None
    n = n_classes or n_steps
    if n < 1:
        raise ValueError(f"no class to spread the background probability over ({n})")
    return float(-np.log(n))


def segmentation_labels(
    log_probs: np.ndarray, background: str, n_classes: int | None = None
) -> np.ndarray:
    bg = background_log_prob(background, n_classes, log_probs.shape[1])
    return ordered_alignment(log_probs, bg)


def score_videos(
    benchmark: str,
    videos: Sequence[dict],
    temperature: float,
    background: str,
    n_classes: int | None,
    skip_short: bool = False,
) -> dict:
    """Recall and segmentation scores from per-video S (T, K), domain log-probs and GT.

    `n_classes`: the size of the softmax domain behind `log_probs` (0 / None: the video's own
    steps). Short videos (T < K) count as misses / zero overlap unless `skip_short` drops them;
    `short_videos` in the result records the counts and the rule."""
    shapes = [v["scores"].shape for v in videos]
    n_short = sum(t < k for t, k in shapes)
    if skip_short:
        videos = [v for v, (t, k) in zip(videos, shapes, strict=True) if t >= k]
    if not videos:
        raise ValueError(f"no video left to score ({n_short} with fewer windows than steps)")
    recall = crosstask_recall(
        (v["task"], v["truth"], recall_prediction(benchmark, v["scores"])) for v in videos
    )
    if benchmark != "crosstask":
        recall = {k: recall[k] for k in ("recall_pooled", "recall_per_video", "videos")}
    seg = segmentation_scores(
        (v["truth"], segmentation_labels(v["log_probs"], background, n_classes)) for v in videos
    )
    short = {
        "fewer_windows_than_steps": n_short,
        "as_many_windows_as_steps": sum(t == k for t, k in shapes),  # scored: step k at window k
        "counted_as": "skipped" if skip_short else "misses (no frame predicted; IoU = IoD = 0)",
    }
    return {**recall, "IoU": seg["IoU"], "IoD": seg["IoD"], "short_videos": short}


def domain_log_probs(sim_all: np.ndarray, columns: Sequence[int], temperature: float) -> np.ndarray:
    """log softmax(sim / temperature) over the domain's texts, the video's step columns."""
    return log_softmax(sim_all, temperature)[:, list(columns)]


def chance(
    benchmark: str,
    videos: Sequence[dict],
    draws: int,
    seed: int,
    temperature: float,
    background: str,
    n_domain: int,
    skip_short: bool = False,
) -> dict:
    """Mean scores of the same pipeline on uniform random similarities in [-1, 1]."""
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(draws):
        fake = []
        for v in videos:
            t, k = v["scores"].shape
            sim_all = rng.uniform(-1, 1, size=(t, max(n_domain, k)))
            fake.append(
                {
                    **v,
                    "scores": sim_all[:, :k],
                    "log_probs": domain_log_probs(sim_all, range(k), temperature),
                }
            )
        runs.append(score_videos(benchmark, fake, temperature, background, n_domain, skip_short))
    keys = ("recall_pooled", "recall_per_video", "IoU", "IoD")
    return {k: float(np.mean([r[k] for r in runs])) for k in keys} | {"draws": draws}


def evaluate(
    model: torch.nn.Module, tables: FeatureTables, items: Sequence[dict], args: argparse.Namespace
) -> dict:
    """Recall and segmentation scores of the test videos `items` (test_items), their chance
    level, and how many videos were left out and why."""
    videos, texts, skipped = embed_test_videos(model, tables, items, args)
    if not videos:
        raise ValueError(f"no test video could be scored ({skipped})")
    domain = list(texts)
    add_scores(videos, domain, torch.stack([texts[t] for t in domain]), args)
    n_domain = len(domain) if args.softmax_over == "dataset" else 0
    skip_short = args.skip_short_videos
    result = score_videos(
        args.benchmark, videos, args.temperature, args.background, n_domain, skip_short
    )
    if skip_short:
        skipped["fewer_frames_than_steps"] = result["short_videos"]["fewer_windows_than_steps"]
    draws = (args.chance_draws, args.seed, args.temperature, args.background, n_domain)
    result["chance"] = chance(args.benchmark, videos, *draws, skip_short)
    result["skipped"] = skipped
    result["test_videos"] = len(items)
    result["domain_texts"] = len(domain)
    return result


def embed_test_videos(
    model: torch.nn.Module, tables: FeatureTables, items: Sequence[dict], args: argparse.Namespace
) -> tuple[list[dict], dict[str, torch.Tensor], dict[str, int]]:
    """The items that can be scored, each with its `windows` and step `queries` embeddings;
    the first embedding of every step text (the dataset's softmax domain, in first-seen
    order); and the count of items left out per reason."""
    known = set(tables.video_ids())
    videos, skipped = [], {"no_features": 0, "fewer_frames_than_steps": 0, "no_queries": 0}
    # Short videos (fewer windows than steps) stay here whatever --skip-short-videos says: their
    # step texts belong to the softmax domain; score_videos decides whether they are scored.
    texts: dict[str, torch.Tensor] = {}
    for item in progress(items, "localize"):
        vid = item["video_id"]
        if vid not in known:
            skipped["no_features"] += 1
            continue
        queries = embed_queries(model, tables, vid, args)
        if len(queries) < max(item["query"], default=-1) + 1 or not item["query"]:
            skipped["no_queries"] += 1
            continue
        windows = embed_video(model, tables, vid, args)
        q = queries[item["query"]]
        for text, row in zip(item["steps"], q, strict=True):
            texts.setdefault(text, row)
        videos.append({**item, "windows": windows, "queries": q})
    return videos, texts, skipped


def add_scores(
    videos: list[dict], domain: list[str], domain_embed: torch.Tensor, args: argparse.Namespace
) -> None:
    """Each video's `scores` (S, windows x steps, float64), `truth` (frames x steps) and
    `log_probs` (the softmax over the domain's texts, or over the video's steps)."""
    for v in videos:
        v["scores"] = cosine_similarity(v["windows"], v["queries"]).numpy().astype(np.float64)
        v["truth"] = crosstask.ground_truth(v["intervals"], len(v["windows"]))
        if args.softmax_over == "dataset":
            sim_all = cosine_similarity(v["windows"], domain_embed).numpy()
            v["log_probs"] = domain_log_probs(
                sim_all, [domain.index(t) for t in v["steps"]], args.temperature
            )
        else:
            v["log_probs"] = log_softmax(v["scores"], args.temperature)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = ArgumentParser(
        prog="eao localize", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--benchmark", choices=BENCHMARKS, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument(
        "--manifest", help="the dataset's manifest (recorded; videos come from the annotations)"
    )
    ap.add_argument(
        "--annotations",
        required=True,
        help="crosstask: crosstask_release/tasks_primary.txt; mining_youtube: "
        "weakYouTube_dict.txt (videos_test.txt and annotations/ beside it)",
    )
    add_shard_options(ap)
    ap.add_argument("--video-tokens", type=int, default=12)
    ap.add_argument("--audio-frames", type=int, default=768)
    ap.add_argument("--max-words", type=int, default=20)
    ap.add_argument("--radius", type=float, default=1.0, help="window = [t - r, t + 1 + r) s")
    ap.add_argument("--temperature", type=float, default=0.05)
    ap.add_argument("--softmax-over", choices=["dataset", "video"], default="dataset")
    ap.add_argument("--background", choices=["uniform", "none"], default="uniform")
    ap.add_argument("--steps", choices=["occurrences", "unique"], default="occurrences")
    ap.add_argument("--exclude-val", action="store_true")
    ap.add_argument(
        "--skip-short-videos",
        action="store_true",
        help="leave out videos with fewer windows than steps (default: score them, their "
        "annotated steps being misses, as CrossTask's evaluation does)",
    )
    ap.add_argument("--test-list")
    ap.add_argument("--chance-draws", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.device = start(args.threads, args.device)
    model, ckpt, tables = load_inputs(args, args.device)
    items = test_items(
        args.benchmark, args.annotations, args.steps, args.exclude_val, args.test_list
    )
    result = evaluate(model, tables, items, args)
    result.update(run_record(args, ckpt, result))
    log_summary(result, args.benchmark)
    write_text_atomic(args.out, json.dumps(result, indent=1))
    return 0


def run_record(args: argparse.Namespace, ckpt: dict, result: dict) -> dict:
    """What the result JSON records beside the scores: CrossTask's task titles, the model, the
    shards' provenance, the settings and the protocol in words."""
    record = {}
    if args.benchmark == "crosstask":
        tasks = crosstask.read_crosstask_tasks(args.annotations)
        record["task_titles"] = {t: tasks[t].title for t in result["per_task_pooled"]}
    short = "skipped" if args.skip_short_videos else "scored, their steps as misses"
    return record | dict(
        model=args.model,
        step=ckpt.get("step"),
        benchmark=args.benchmark,
        provenance=inputs_provenance(args),
        settings={k: getattr(args, k) for k in SETTINGS},
        protocol="recall: CrossTask DP on raw similarities (MYT: on a log-softmax over the "
        "video's steps); pooled per task (official) and per-video mean; IoU/IoD per entry "
        "matched by position; videos with fewer windows than steps " + short,
        eao_version=eao.__version__,
        **model_record(ckpt),  # an imported checkpoint's file and sha256
    )


def log_summary(result: dict, benchmark: str) -> None:
    log.info(
        "%s: recall %.1f (per-video %.1f), IoU %.1f, IoD %.1f over %d videos; chance "
        "recall %.1f, IoU %.1f",
        benchmark,
        *(result[k] for k in ("recall_pooled", "recall_per_video", "IoU", "IoD", "videos")),
        result["chance"]["recall_pooled"],
        result["chance"]["IoU"],
    )


if __name__ == "__main__":  # eao.errors.run: one line per bad input
    raise SystemExit(run(main, prog="eao localize"))
