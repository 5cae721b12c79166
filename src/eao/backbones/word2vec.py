"""word2vec vectors converted once into gensim's native format, for memory-mapped loading.

    python -m eao.backbones.word2vec --source GoogleNews-vectors-negative300.bin \
        --out results/word2vec/GoogleNews-vectors-negative300.kv

Parsing the 3.6 GB GoogleNews binary and hashing it for provenance costs every text job tens
of seconds and ~4 GB of private memory; at HowTo100M scale that is ~620 jobs. The conversion
does both once. A converted folder holds

- `vectors.kv` and `vectors.kv.vectors.npy` (gensim's `KeyedVectors.save`): loaded with
  `mmap='r'`, so the vectors are paged in from the page cache, shared by every job on a node;
- `source.json`: the original file as it was given and its sha256. Shards made from the folder
  record these as their provenance, exactly as shards made from the original file do.

The folder is written under a hidden temporary name beside the target and renamed into place
when all three files are complete: a killed conversion leaves no folder at the target.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eao.backbones.spec import Text, TextEncoder
from eao.backbones.text import tokenize
from eao.backbones.weights import (
    Provenance,
    WeightsNotFound,
    is_random,
    sha256_file,
    warn_random,
)
from eao.errors import ArgumentParser, BadInput, need_file, reading, run
from eao.io.atomic import atomic_dir

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

WORD2VEC_DIM = 300
GOOGLENEWS = "GoogleNews-vectors-negative300.bin"
VECTORS = "vectors.kv"  # gensim writes VECTORS + ".vectors.npy" beside it
SOURCE = "source.json"
TEXT_SUFFIXES = (".txt", ".txt.gz", ".txt.bz2", ".vec", ".vec.gz")  # word2vec text format
_FILES = (VECTORS, VECTORS + ".vectors.npy", SOURCE)  # a converted folder holds all three


def is_converted(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder that `convert` wrote (all of its files are there)."""
    folder = Path(path)
    return folder.is_dir() and all((folder / n).is_file() for n in _FILES)


def load_word2vec_file(path: str) -> KeyedVectors:
    """An original word2vec file (binary, or text if its name says so): BadInput naming it when
    it cannot be parsed (truncated, not word2vec)."""
    from gensim.models import KeyedVectors

    binary = not path.lower().endswith(TEXT_SUFFIXES)
    with reading(path):
        return KeyedVectors.load_word2vec_format(path, binary=binary)


def convert(source: str, target: str | os.PathLike) -> dict[str, str]:
    """Convert the word2vec file `source` into the folder `target`, atomically; returns what
    source.json records (`weights`: `source` as given, `sha256`: of its bytes)."""
    need_file(source, "word2vec file")
    kv = load_word2vec_file(source)
    record = {"weights": source, "sha256": sha256_file(source), "words": str(len(kv))}
    with atomic_dir(target) as tmp:
        # always its own .npy (gensim keeps arrays under 10 MB inside the pickle): mmap needs it
        kv.save(str(tmp / VECTORS), separately=["vectors"])
        (tmp / SOURCE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


def load_converted(folder: str | os.PathLike) -> tuple[KeyedVectors, dict[str, str]]:
    """(the vectors, memory-mapped read-only; what source.json records) of a converted folder."""
    from gensim.models import KeyedVectors

    folder = Path(folder)
    missing = [n for n in _FILES if not (folder / n).is_file()]
    if missing:
        raise BadInput(f"not a converted word2vec folder (no {', '.join(missing)})", folder)
    with reading(folder / SOURCE):
        record = json.loads((folder / SOURCE).read_text(encoding="utf-8"))
        weights, sha256 = str(record["weights"]), str(record["sha256"])
    with reading(folder / VECTORS):
        kv = KeyedVectors.load(str(folder / VECTORS), mmap="r")
    return kv, {"weights": weights, "sha256": sha256}


class Word2Vec:
    """Word vectors looked up per token. Build with `Word2Vec.load(spec, seed)`."""

    def __init__(
        self,
        vectors: KeyedVectors | None,
        provenance: Provenance,
        dim: int = WORD2VEC_DIM,
        seed: int = 0,
    ) -> None:
        self._kv = vectors  # None: random vectors, every token known
        self.provenance = provenance
        self.dim = dim if vectors is None else int(vectors.vector_size)
        self.seed = seed

    @classmethod
    def load(cls, spec: str, seed: int = 0) -> Word2Vec:
        """spec: a word2vec file (binary like GoogleNews-vectors-negative300.bin[.gz]; text format
        if it ends in .txt or .vec), a folder `python -m eao.backbones.word2vec` converted it into
        (memory-mapped; provenance: the original file's), or 'random' (seeded per-token vectors,
        no vocabulary)."""
        if is_random(spec):
            warn_random("word2vec", seed)
            return cls(None, Provenance("word2vec", "random", seed=seed), seed=seed)
        if os.path.isdir(spec):
            kv, source = load_converted(spec)
            return cls(kv, Provenance("word2vec", source["weights"], sha256=source["sha256"]))
        if not os.path.isfile(spec):
            raise WeightsNotFound(
                f"word2vec vectors not found: {spec!r}. Download {GOOGLENEWS}(.gz) (the "
                "GoogleNews 300-d vectors, https://code.google.com/archive/p/word2vec/) and set "
                "the text weights to its path, or use 'random'"
            )
        kv = load_word2vec_file(spec)
        return cls(kv, Provenance("word2vec", spec, sha256=sha256_file(spec)))

    def _random_vector(self, token: str) -> np.ndarray:
        # A stable hash (not Python's salted hash()) so that every process and every run gives a
        # token the same vector; scaled to about unit norm.
        digest = hashlib.sha256(f"{self.seed}\x00{token}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:16], "little"))
        return (rng.standard_normal(self.dim) / np.sqrt(self.dim)).astype(np.float32)

    def encode(self, text: str) -> tuple[list[str], np.ndarray, int]:
        """(tokens kept, in order; their (n, dim) float32 vectors; number of OOV tokens dropped).
        OOV tokens are dropped before anything else, as the reference does; nothing is truncated
        here (max_words is a loader concern)."""
        tokens = tokenize(text)
        if self._kv is None:
            vecs = [self._random_vector(t) for t in tokens]
            return tokens, _stack(vecs, self.dim), 0
        index = self._kv.key_to_index
        kept = [t for t in tokens if t in index]
        vecs = self._kv.vectors[[index[t] for t in kept]] if kept else []
        return kept, _stack(vecs, self.dim), len(tokens) - len(kept)


def _stack(vectors: list[np.ndarray] | np.ndarray, dim: int) -> np.ndarray:
    if len(vectors) == 0:
        return np.zeros((0, dim), np.float32)
    return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, dim))


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="python -m eao.backbones.word2vec", description=__doc__.split("\n")[0])
    ap.add_argument("--source", required=True, help="word2vec file (.bin[.gz], or .txt/.vec)")
    ap.add_argument("--out", required=True, help="the converted folder to write")
    args = ap.parse_args(argv)
    record = convert(args.source, args.out)
    print(
        f"word2vec: {record['words']} words of {args.source} -> {args.out} "
        f"(sha256 {record['sha256'][:12]}...)"
    )
    return 0


def _build(settings: dict, device: str) -> Text:
    w2v = Word2Vec.load(settings["weights"], seed=settings["seed"])
    unknown = 0

    def encode(texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        nonlocal unknown
        out = []
        for text in texts:
            tokens, vectors, n_oov = w2v.encode(text)
            out.append((tokens, vectors))
            unknown += n_oov
        return out

    def provenance() -> dict:
        return {**w2v.provenance.as_metadata(), "oov_tokens": str(unknown)}

    return Text("word2vec", w2v.dim, encode, provenance)


TEXT_SPEC = TextEncoder(
    name="word2vec",
    summary="word2vec (path to GoogleNews-vectors-negative300.bin, or random).",
    build=_build,
    paper=True,
    weights_help="A word2vec file (.bin[.gz], .txt, .vec; converted once by rule "
    "convert_word2vec for memory-mapped loading), a folder it converted, or random.",
    tokenizer_help="Not used by word2vec (accepted as for the other text encoders).",
    weights_reruns=("convert_word2vec",),
)


if __name__ == "__main__":
    sys.exit(run(main, prog="python -m eao.backbones.word2vec"))
