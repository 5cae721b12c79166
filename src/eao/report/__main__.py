"""`python -m eao.report`: the report's figures from the run's results (rule report_figures).

    python -m eao.report --metrics results/pretrain/*/metrics.jsonl \
        --retrieval results/evaluate/retrieval/*/*/*/at_once.json --out-dir results/report

Every file it reads is named on the command line (rule report_figures passes its inputs): the
attention analysis reads exactly the feature shards given by --video-2d/--video-3d/--audio/--text.

Always training.png and a recall_<dataset>.png per benchmark; attention.png with --model (over
the caption clips of the benchmark whose feature shards are given, its name: --attention-dataset);
retrieval_grid.png with --index (its queries: --captions). What each figure shows:
eao.report.figures."""

from __future__ import annotations

import argparse
import os
import sys

from eao.errors import ArgumentParser, run
from eao.report.figures import write_figures
from eao.report.inputs import attention, grid_inputs, read_results

SHARD_KINDS = ("video_2d", "video_3d", "audio", "text")  # the attention's shards (FeatureTables)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = ArgumentParser(prog="eao report", description=__doc__.split("\n")[0])
    ap.add_argument("--metrics", nargs="+", required=True, help="metrics.jsonl of pretraining")
    ap.add_argument("--retrieval", nargs="+", required=True, help="retrieval result JSONs")
    ap.add_argument("--datasets", nargs="*", help="write recall_<d>.png for exactly these")
    ap.add_argument("--model", help="the main model: draw attention.png")
    for kind in SHARD_KINDS:
        flag = "--" + kind.replace("_", "-")
        ap.add_argument(flag, nargs="*", default=[], help="attention: the model's shards")
    ap.add_argument("--attention-dataset", default="youcook2", help="their benchmark's name")
    ap.add_argument("--video-tokens", type=int, default=12)
    ap.add_argument("--audio-frames", type=int, default=768)
    ap.add_argument("--max-words", type=int, default=20)
    ap.add_argument("--index", help="a search index: draw retrieval_grid.png")
    ap.add_argument("--captions", help="the index dataset's captions table (the queries)")
    ap.add_argument("--out-dir", required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Every input is read before the first figure is written: a bad one leaves no figure.
    runs, results = read_results(args.metrics, args.retrieval, args.datasets)
    att = None
    if args.model:
        shards = {kind: getattr(args, kind) for kind in SHARD_KINDS}
        att = attention(args.model, shards, args.video_tokens, args.audio_frames, args.max_words)
    grid = grid_inputs(args.index, args.captions) if args.index else None
    written = write_figures(args.out_dir, runs, results, att, args.attention_dataset, grid)
    print(f"report figures: training.png, {', '.join(os.path.basename(w) for w in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="eao report"))
