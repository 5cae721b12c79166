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

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from eao.backbones.weights import sha256_file
from eao.errors import ArgumentParser, BadInput, need_file, reading, run
from eao.io.atomic import atomic_dir

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

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


if __name__ == "__main__":
    sys.exit(run(main, prog="python -m eao.backbones.word2vec"))
