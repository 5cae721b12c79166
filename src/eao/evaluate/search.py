"""Text search over your own videos: `eao index-shards` (rule `index`) embeds every window of a
dataset's videos with a trained model, `eao search` ranks them for a text query.

    python -m eao.evaluate.search index --model results/pretrain/main/model.pt \
        --manifest results/manifest/mine/videos.parquet --video-2d ... --video-3d ... \
        --audio ... --text ... --out results/index/mine.parquet
    eao search results/index/mine.parquet "crack the eggs into a bowl" -k 5

The index is a Parquet table, one row per window (`window_s` long, every `stride_s`): video_id,
path, start_s, end_s and the window's embedding (the fused video+audio `va` embedding, `v`
without audio), L2-normalised. Its footer records the model and the text encoder of the model's
text shards (encoder, weights, seed), so a query is embedded exactly as the training captions
were. Probing and feature extraction are the workflow's: `eao index FOLDER` (eao.own_videos)
adds a folder as a dataset and asks the workflow for `results/index/<name>.parquet`; this
module's `index` entry point is that rule's last step (`eao index-shards`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from eao.checkpoints import load_model
from eao.data.benchmarks import video_seconds, window_clips
from eao.data.corpus import FeatureTables
from eao.devices import resolve_device
from eao.errors import ArgumentParser, BadInput, first_sentence, run
from eao.evaluate.ann import AnnSettings, ExactSearch, open_search
from eao.evaluate.ann import build as build_ann
from eao.evaluate.ann import read_meta as read_ann_meta
from eao.evaluate.embed import embed_batches
from eao.evaluate.queries import QueryEncoder
from eao.io.parquet import check_table, read_table, write_table
from eao.progress import progress

WINDOW_COLUMNS = ["video_id", "path", "start_s", "end_s"]
INDEX_COLUMNS = {*WINDOW_COLUMNS, "embedding"}


class NotAnIndex(BadInput):
    """A file that is not a usable index (the message names it and why)."""


def text_provenance(paths: list[str]) -> dict[str, str]:
    """encoder, weights, seed of the text shards the model was trained on (their footers)."""
    footer = check_table(paths[0], what="text feature shard").metadata or {}
    meta = {k.decode(): v.decode() for k, v in footer.items()}
    table = meta.get("table", "")
    if not table.startswith("text_features/"):  # the encoder is named by this key only
        raise BadInput(f"not a text feature shard (table {table!r})", paths[0])
    return {
        "text_encoder": table.split("/", 1)[1],
        "text_weights": meta.get("weights", ""),
        "text_seed": meta.get("weights_seed", "0"),
    }


def build_index(args: argparse.Namespace) -> pa.Table:
    device = resolve_device(args.device)
    model, _ = load_model(args.model)
    model.to(device)
    tables = FeatureTables(video_2d=args.video_2d, video_3d=args.video_3d, audio=args.audio)
    manifest = read_table(args.manifest, ["video_id", "path"], kind="manifest").to_pydict()
    paths = dict(zip(manifest["video_id"], manifest["path"], strict=True))
    radius = (args.window_s - args.stride_s) / 2
    rows: dict[str, list] = {k: [] for k in ("video_id", "path", "start_s", "end_s")}
    embeddings = []
    for vid in progress(tables.video_ids(), "index"):
        batch, n = window_clips(
            tables, vid, args.video_tokens, args.audio_frames, radius=radius, stride=args.stride_s
        )
        if n == 0:
            continue
        out = embed_batches(model, batch, args.batch_size, device)
        emb = out.get("va_embed", out["video_embed"])
        embeddings.append(torch.nn.functional.normalize(emb.float(), dim=-1).numpy())
        duration = float(video_seconds(tables, vid))
        for i in range(n):  # window_clips' windows, clipped to the video as it clips them
            rows["video_id"].append(vid)
            rows["path"].append(paths.get(vid, ""))
            rows["start_s"].append(max(0.0, i * args.stride_s - radius))
            rows["end_s"].append(min(duration, (i + 1) * args.stride_s + radius))
    dim = model.cfg.proj_dim
    flat = np.concatenate(embeddings) if embeddings else np.zeros((0, dim), np.float32)
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1), pa.float32()), dim)
    return pa.Table.from_pydict({**rows, "embedding": embedding})


def index_parser() -> ArgumentParser:
    ap = ArgumentParser(
        prog="eao index-shards",
        description="Embed every window of a dataset's feature shards with a trained model into "
        "an index (the index rule's step; `eao index FOLDER` runs the whole chain).",
    )
    ap.add_argument("--model", required=True)
    ap.add_argument("--manifest", required=True, help="the dataset's manifest (video paths)")
    ap.add_argument("--video-2d", nargs="*", default=[])
    ap.add_argument("--video-3d", nargs="*", default=[])
    ap.add_argument("--audio", nargs="*", default=[])
    ap.add_argument(
        "--text", nargs="+", required=True, help="text shards of the model's encoder (named there)"
    )
    ap.add_argument("--window-s", type=float, default=8.0)
    ap.add_argument("--stride-s", type=float, default=4.0)
    ap.add_argument("--video-tokens", type=int, default=12)
    ap.add_argument("--audio-frames", type=int, default=768)
    ap.add_argument("--max-words", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    for key, default in asdict(AnnSettings()).items():
        flag = "--ann-" + key.replace("_", "-")
        ap.add_argument(flag, type=int, default=default, help="eao.evaluate.ann.AnnSettings")
    ap.add_argument("--out", required=True)
    ap.add_argument("--out-ann", help="the search folder (default: the index's name, .ann)")
    return ap


def index_main(argv: list[str] | None = None) -> int:
    ap = index_parser()
    args = ap.parse_args(argv)
    if args.stride_s <= 0 or args.window_s < args.stride_s:
        ap.error("need 0 < --stride-s <= --window-s")
    if args.out_ann and Path(args.out_ann) != ann_folder(args.out):
        ap.error(f"--out-ann must be {ann_folder(args.out)} (where eao search looks for it)")
    text = text_provenance(args.text)  # before the embedding: a wrong shard is named at once
    table = build_index(args)
    # the model's path relative to the index: the index moves with its results folder, and
    # two runs in different folders write the same bytes. Lexical, not through symlinks: in a
    # shadow directory (tests/test_shadow.py) the model is a symlink to the real results folder
    model = os.path.relpath(os.path.abspath(args.model), os.path.dirname(os.path.abspath(args.out)))
    meta = {
        "table": "index",
        "model": model,
        "max_words": str(args.max_words),
        "window_s": str(args.window_s),
        "stride_s": str(args.stride_s),
        **text,
    }
    write_table(table, args.out, meta)
    settings = AnnSettings(**{k: getattr(args, "ann_" + k) for k in asdict(AnnSettings())})
    search_meta = write_search(table, args.out_ann or ann_folder(args.out), settings)
    print(
        f"search: {search_meta['kind']} ({len(table)} windows, approximate from "
        f"{settings.min_windows})"
    )
    print(
        f"index: {len(table)} windows of {len(set(table['video_id'].to_pylist()))} videos "
        f"-> {args.out}"
    )
    return 0


# -- search ---------------------------------------------------------------------------------------
def read_index(path: str, columns: list[str] | None = None) -> tuple[pa.Table, dict[str, str]]:
    """The index's table (all columns, or `columns`) and footer; NotAnIndex naming the file
    when it is not one."""
    if not Path(path).is_file():
        raise NotAnIndex(f"{path}: no such index file (build one with the `index` rule)")
    try:
        table = pq.read_table(path, columns=columns)
    except (OSError, ValueError) as e:
        detail = first_sentence(e)
        raise NotAnIndex(f"{path}: not an eao index (not a Parquet file: {detail})") from e
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    if meta.get("table") != "index" or not set(table.column_names) >= set(columns or INDEX_COLUMNS):
        raise NotAnIndex(f"{path}: not an eao index (a Parquet table of {meta.get('table')!r})")
    if len(table) == 0:
        raise NotAnIndex(f"{path}: the index is empty (no video had features to embed)")
    return table, meta


def ann_folder(index: str | Path) -> Path:
    """The search folder the `index` rule writes beside an index (eao.evaluate.ann)."""
    return Path(index).with_suffix(".ann")


def embedding_matrix(table: pa.Table) -> np.ndarray:
    """The index's (n, d) float32 embeddings."""
    column = table["embedding"].combine_chunks()
    return column.flatten().to_numpy().reshape(len(table), -1)


def write_search(table: pa.Table, folder: str | Path, settings: AnnSettings) -> dict:
    emb = embedding_matrix(table) if len(table) else np.zeros((0, 0), np.float32)
    chunks = (emb[i : i + 65_536] for i in range(0, len(emb), 65_536))
    return build_ann(chunks, len(emb), emb.shape[1], folder, settings)


class SearchIndex:
    """An index opened for queries: its windows (no embeddings), its footer, and the search
    its `.ann` folder names (exact below the size threshold, approximate above). An index
    without that folder (written before it existed) is searched exactly."""

    def __init__(self, path: str):
        self.path = path
        folder = ann_folder(path)
        exact = not (folder / "meta.json").is_file() or read_ann_meta(folder)["kind"] == "exact"
        table, self.meta = read_index(path, None if exact else WINDOW_COLUMNS)
        self.windows = table.select(WINDOW_COLUMNS)
        self.search_kind = "exact"
        if exact:
            self.searcher = ExactSearch(embedding_matrix(table))
        else:
            self.searcher = open_search(folder, lambda: embedding_matrix(table))
            self.search_kind = self.searcher.kind
            if len(self.searcher) != len(table):
                raise NotAnIndex(
                    f"{folder}: built for {len(self.searcher)} windows, not "
                    f"{len(table)} (rebuild the index)"
                )

    def __len__(self) -> int:
        return len(self.windows)

    def search(self, query: np.ndarray, k: int) -> list[dict]:
        """The k best windows, best first: video_id, path, start_s, end_s, score, row."""
        rows_at, scores = self.searcher.search(query, min(k, len(self)))
        rows = self.windows.take(rows_at).to_pylist()
        return [
            {**row, "score": float(score), "row": int(at)}
            for row, score, at in zip(rows, scores, rows_at, strict=True)
        ]


def embed_queries(
    queries: list[str],
    meta: dict[str, str],
    model: torch.nn.Module,
    device: str,
    tokenizer: str | None = None,
    skip_unknown: bool = False,
) -> np.ndarray:
    """(len(queries), proj_dim) L2-normalised text embeddings (eao.evaluate.queries); the text
    encoder of the index's footer is loaded once for all of them."""
    return QueryEncoder(meta, model, device, tokenizer).embed(queries, skip_unknown)


def own_window_hits(
    table: pa.Table, captions: list[dict], queries: np.ndarray, k: int
) -> tuple[int, int, float]:
    """How often a caption's own window (same video, overlapping its span) is among the top k
    of the whole index: (hits, captions measured, chance), chance being the expected fraction
    under a random ranking, 1 - C(N-m, k) / C(N, k) averaged over captions with m own windows.
    queries: the captions' embeddings (embed_queries with skip_unknown); NaN rows, captions
    with no word the text encoder knows, are left out (not counted)."""
    from math import comb

    ids = np.array(table["video_id"].to_pylist(), dtype=object)
    starts, ends = (table[c].to_numpy() for c in ("start_s", "end_s"))
    embeddings = embedding_matrix(table)
    n, top_k = len(table), min(k, len(table))  # an index of fewer than k windows: all are top k
    hits, measured, chance = 0, 0, 0.0
    for cap, query in zip(captions, queries, strict=True):
        if np.isnan(query).any():
            continue
        own = (ids == cap["video_id"]) & (starts < cap["end_s"]) & (ends > cap["start_s"])
        top = np.argsort(-(embeddings @ query), kind="stable")[:top_k]
        hits += bool(own[top].any())
        measured += 1
        chance += 1 - comb(n - int(own.sum()), top_k) / comb(n, top_k)
    return hits, measured, chance / max(measured, 1)


def search(table: pa.Table, query_embedding: np.ndarray, k: int) -> list[dict]:
    """Exact search over a table already in memory (the report's grid), as SearchIndex's."""
    top, scores = ExactSearch(embedding_matrix(table)).search(query_embedding, k)
    rows = table.select(WINDOW_COLUMNS).take(top).to_pylist()
    return [{**row, "score": float(score)} for row, score in zip(rows, scores, strict=True)]


def search_main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(
        prog="eao search", description="Rank the windows of an index for a text query."
    )
    ap.add_argument("index", help="an index written by the `index` rule (results/index/*.parquet)")
    ap.add_argument("query", help="the text to search for")
    ap.add_argument("-k", type=int, default=5, help="how many windows to show")
    ap.add_argument("--model", help="the model (default: the one the index was built with)")
    ap.add_argument("--tokenizer", help="CLIP text with random weights: its tokenizer folder")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", action="store_true", help="print JSON lines")
    args = ap.parse_args(argv)
    if args.k < 1:
        ap.error("-k must be at least 1")
    index = SearchIndex(args.index)
    device = resolve_device(args.device)
    model = load_index_model(index, args.model).to(device)
    query = QueryEncoder(index.meta, model, device, args.tokenizer).embed([args.query])[0]
    for rank, hit in enumerate(index.search(query, args.k), 1):
        if args.json:
            print(json.dumps({"rank": rank, **hit}))
        else:
            print(
                f"{rank}. {hit['score']:.3f}  {hit['video_id']}  "
                f"{hit['start_s']:.1f}-{hit['end_s']:.1f} s  {hit['path']}"
            )
    return 0


def load_index_model(index: SearchIndex, model: str | None = None) -> torch.nn.Module:
    """The model the index was built with (its footer's path, relative to the index), or
    `model`; NotAnIndex when that file is gone."""
    path = model or str(Path(index.path).parent / index.meta["model"])
    if not Path(path).is_file():
        raise NotAnIndex(f"{index.path}: its model {path} is gone (pass --model)")
    return load_model(path)[0]


def main(argv: list[str] | None = None) -> int:
    """`index ARGS` builds an index (the rule's entry point); anything else searches one."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["index"]:
        return index_main(argv[1:])
    return search_main(argv)


if __name__ == "__main__":
    # the prog of the parser main picks (python -m eao.evaluate.search [index] ...)
    sys.exit(run(main, prog="eao index-shards" if sys.argv[1:2] == ["index"] else "eao search"))
