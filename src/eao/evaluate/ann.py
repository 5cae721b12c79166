"""Approximate nearest-neighbour search for large indexes (FAISS), exact search for small ones.

The `index` rule writes, beside `results/index/<dataset>.parquet`, a folder `<dataset>.ann/`:

- below `min_windows` windows only `meta.json` saying `"kind": "exact"`: search ranks every
  window by brute force, as `eao search` always did (identical results);
- above it, `meta.json`, `index.faiss` and `vectors.npy`. The FAISS index is an inverted file
  (IVF, inner product) over the windows' embeddings projected onto their top `pca_dim`
  principal directions; a query probes `nprobe` of its `nlist` lists, and the best `rerank`
  candidates are re-scored with the full embeddings (`vectors.npy`, float16, memory-mapped),
  so the scores shown are exact and only a missed candidate can cost recall.

Why not FAISS's own IndexRefineFlat for the re-scoring: it keeps the full float32 vectors in
memory, 24.6 GB for 10^6 windows of the model's 6144 dimensions, more than this project's
2-core, 24 GiB reference machine has; the float16 file is half that and only the candidates'
rows are read. Why the projection is computed here and not with faiss.PCAMatrix: PCAMatrix
centres the vectors, and a centred inner product ranks windows differently from the cosine
(it adds a term in the mean); the uncentred principal directions keep q·x ≈ (Pq)·(Px).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from eao.errors import BadInput
from eao.io.atomic import atomic_dir

META = "meta.json"
MAX_K = 1000  # the most windows one query may ask for


@dataclass(frozen=True)
class AnnSettings:
    """How the `index` rule builds the approximate index (config `index.ann`)."""

    min_windows: int = 50_000  # fewer windows: exact search (about 1.2 GB of float32 at 6144-d)
    pca_dim: int = 256  # dimensions the inverted file works in
    nlist: int = 0  # inverted lists; 0: 4·sqrt(n), at most one per 39 training vectors
    nprobe: int = 64  # lists a query visits
    rerank: int = 200  # candidates re-scored with the full embeddings
    train_size: int = 100_000  # vectors the projection and the lists are learned from
    seed: int = 0

    def lists(self, n: int) -> int:
        """The inverted lists for n vectors: never more than the training vectors (k-means
        needs a vector per list)."""
        trained = min(n, self.train_size)
        if self.nlist:
            return max(1, min(self.nlist, trained))
        return max(1, min(int(4 * math.sqrt(n)), trained // 39))


def topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k best scores, best first; ties keep the lower position (a stable
    sort, as the exact search has always ranked)."""
    return np.argsort(-scores, kind="stable")[:k]


class ExactSearch:
    """Brute force over the full embeddings (n, d) float32."""

    kind = "exact"

    def __init__(self, embeddings: np.ndarray):
        self.embeddings = embeddings

    def __len__(self) -> int:
        return len(self.embeddings)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = self.embeddings @ query
        top = topk(scores, k)
        return top, scores[top]


class AnnSearch:
    """The inverted file over the projected embeddings, then exact re-scoring."""

    kind = "ivf"

    def __init__(self, folder: Path, meta: dict):
        import faiss

        # One thread: FAISS and torch bring two OpenMP runtimes, and their spinning threads
        # on the same cores turn a 1 ms query into 8 ms or more; one query's lists are small
        faiss.omp_set_num_threads(1)
        self.index = faiss.read_index(str(folder / "index.faiss"))
        faiss.extract_index_ivf(self.index).nprobe = int(meta["nprobe"])
        self.vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        self.rerank = int(meta["rerank"])
        self.buffer = torch.empty(max(self.rerank, MAX_K), self.vectors.shape[1])
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        want = min(max(self.rerank, k), len(self), len(self.buffer))
        faiss.omp_set_num_threads(1)  # per calling thread with libgomp: a server's workers too
        _, found = self.index.search(query[None].astype(np.float32), want)
        candidates = np.sort(found[0][found[0] >= 0])  # sorted: the mmap reads in file order
        with self.lock:  # one re-scoring buffer, reused: a fresh 5 MB array per query costs
            # more in page faults than the product; torch converts float16 with SIMD, numpy
            # ~10x slower
            rows = self.buffer[: len(candidates)]
            rows.copy_(torch.from_numpy(self.vectors[candidates]))
            scores = (rows @ torch.from_numpy(np.ascontiguousarray(query, np.float32))).numpy()
        top = topk(scores, k)
        return candidates[top], scores[top]

    def memory_bytes(self) -> int:
        """Resident bytes of the FAISS index (the projection and the inverted lists); the
        float16 vectors are a memory-mapped file, read per candidate."""
        import faiss

        return int(faiss.serialize_index(self.index).nbytes)


def read_meta(folder: str | Path) -> dict:
    path = Path(folder) / META
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BadInput(f"not a search index folder ({type(e).__name__})", str(path)) from e
    if meta.get("kind") not in ("exact", "ivf"):
        raise BadInput(f"unknown search index kind {meta.get('kind')!r}", str(path))
    return meta


def projection(sample: np.ndarray, dim: int) -> np.ndarray:
    """(d, dim) float32: the top `dim` eigenvectors of the uncentred second moment."""
    x = sample.astype(np.float64)
    _, vecs = np.linalg.eigh(x.T @ x)
    return np.ascontiguousarray(vecs[:, ::-1][:, :dim], dtype=np.float32)


def _train(sample: np.ndarray, settings: AnnSettings, n: int):
    import faiss

    d = sample.shape[1]
    p = min(settings.pca_dim, d)
    proj = projection(sample[: min(len(sample), 32_768)], p)  # 32k vectors fix 256 directions
    transform = faiss.LinearTransform(d, p, False)
    faiss.copy_array_to_vector(np.ascontiguousarray(proj.T).ravel(), transform.A)
    transform.is_trained = True
    nlist = settings.lists(n)
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(p), p, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = settings.seed
    ivf.train(np.ascontiguousarray(sample @ proj))
    return faiss.IndexPreTransform(transform, ivf), nlist


def build(
    chunks: Iterator[np.ndarray], n: int, dim: int, folder: str | Path, settings: AnnSettings
) -> dict:
    """Write the search folder for n vectors of `dim` given in row order by `chunks` (float32
    or float16, L2-normalised); returns its meta. Atomic: the folder is whole or absent."""
    meta = {"kind": "exact", "windows": n, "dim": dim, **asdict(settings)}
    with atomic_dir(folder) as tmp:
        if n >= max(settings.min_windows, 1):
            meta |= _build_ivf(chunks, n, dim, tmp, settings)
        (tmp / META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return meta


def _build_ivf(
    chunks: Iterator[np.ndarray], n: int, dim: int, tmp: Path, settings: AnnSettings
) -> dict:
    import faiss

    vectors = np.lib.format.open_memmap(tmp / "vectors.npy", "w+", np.float16, (n, dim))
    at = 0
    for chunk in chunks:
        vectors[at : at + len(chunk)] = chunk
        at += len(chunk)
    if at != n:
        raise ValueError(f"{at} vectors given for an index of {n}")
    rng = np.random.default_rng(settings.seed)
    pick = np.sort(rng.choice(n, min(n, settings.train_size), replace=False))
    index, nlist = _train(np.asarray(vectors[pick], np.float32), settings, n)
    for start in range(0, n, 65_536):
        index.add(np.asarray(vectors[start : start + 65_536], np.float32))
    vectors.flush()
    faiss.write_index(index, str(tmp / "index.faiss"))
    return {"kind": "ivf", "nlist": nlist}


def open_search(
    folder: str | Path, embeddings: Callable[[], np.ndarray]
) -> ExactSearch | AnnSearch:
    """The search the folder describes; `embeddings()` gives the full float32 matrix for an
    exact one (read only then: an approximate index never loads it)."""
    meta = read_meta(folder)
    if meta["kind"] == "exact":
        return ExactSearch(embeddings())
    return AnnSearch(Path(folder), meta)
