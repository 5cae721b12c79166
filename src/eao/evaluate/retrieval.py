"""`eao retrieval`: text-to-video retrieval of a trained model on a benchmark's feature shards.

    python -m eao.evaluate.retrieval --model results/pretrain/model.pt --manifest M \
        --split validation --clips segments --video-2d ... --text ... --out R.json

`--clips segments` (YouCook2): every caption segment of the split's videos is a clip (its window
of the video, its caption as the query). `--clips videos` (MSR-VTT): one clip per video, the whole
video, queried with its first caption. The JSON holds every retrieval task of the released code's
metric list (t2v, t2va, t2v+a, ...), the chance level of the same set, and what was evaluated.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import pyarrow.parquet as pq
import torch

import eao
from eao.checkpoints import load_model
from eao.data.benchmarks import retrieval_clips, segment_rows, video_rows
from eao.data.corpus import FeatureTables
from eao.devices import resolve_device
from eao.evaluate.embed import embed_batches
from eao.evaluate.metrics import chance_metrics, metrics_for_tasks, similarity_tasks

log = logging.getLogger("eao.retrieval")


def split_videos(manifest: str, split: str | None) -> list[str] | None:
    """Video ids of the split (None: every video of the manifest is used)."""
    if not split:
        return None
    table = pq.read_table(manifest, columns=["video_id", "split"]).to_pylist()
    ids = [r["video_id"] for r in table if r["split"] == split]
    if not ids:
        splits = sorted({str(r["split"]) for r in table})
        raise ValueError(
            f"{manifest}: no video in split {split!r} (splits there: {', '.join(splits)})"
        )
    return ids


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
) -> dict:
    """Retrieval metrics of every task, chance, and the clip count."""
    rows = segment_rows(tables, videos) if clips == "segments" else video_rows(tables, videos)
    batch, ids = retrieval_clips(tables, rows, video_tokens, audio_frames, max_words)
    if len(ids) < 2:
        raise ValueError(f"only {len(ids)} clip(s) to retrieve from: nothing to rank")
    out = embed_batches(model, batch, batch_size, device)
    sims = similarity_tasks({k: v for k, v in out.items() if k.endswith("_embed")})
    return {
        "clips": len(ids),
        "complete_size": complete_size or len(ids),
        "chance": chance_metrics(len(ids), complete_size),
        "metrics": metrics_for_tasks(sims, complete_size=complete_size),
        "empty_text": int((~out["text_nonempty_input_mask"]).sum())
        if "text_nonempty_input_mask" in out
        else None,
        "empty_audio": int((~out["audio_nonempty_input_mask"]).sum())
        if "audio_nonempty_input_mask" in out
        else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
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
    )
    result.update(
        model=args.model,
        step=ckpt.get("step"),
        split=args.split,
        clips_from=args.clips,
        video_tokens=args.video_tokens,
        audio_frames=args.audio_frames,
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
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
