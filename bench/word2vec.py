"""Start-up of a word2vec text job: the original binary against the converted folder.

    python bench/word2vec.py [--words 200000] [--dim 300] [--repeats 5] [--out FILE]

Writes a synthetic word2vec binary in the GoogleNews format (random vectors, `words` x `dim`
float32), converts it once with eao.backbones.word2vec, then times in fresh processes what every
extract_text job does before its first caption:
  - before: `Word2Vec.load(file)`: gensim's load_word2vec_format + sha256 of the file;
  - after: `Word2Vec.load(folder)`: KeyedVectors.load(mmap='r') + reading source.json;
plus the peak resident memory of each (VmHWM; imports included), and the one-off conversion.
Both read files that are in the page cache (written just before), as on a node where the file
was read once.
Writes --out (default results/bench/word2vec.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meta import write_result  # noqa: E402

CHILD = """
import json, sys, time
from gensim.models import KeyedVectors  # imports are the same both ways: not timed
from eao.backbones.word2vec import Word2Vec
t = time.perf_counter()
w2v = Word2Vec.load(sys.argv[1])
w2v.encode("cut the tomato and fry the eggs")
s = time.perf_counter() - t
# VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's conversion
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"s": s, "rss_mb": hwm / 1024}))
"""


def write_binary(path: str, words: int, dim: int) -> None:
    """The GoogleNews layout: a header line, then per word `word<space>` + dim float32."""
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(f"{words} {dim}\n".encode())
        for start in range(0, words, 10_000):
            block = rng.standard_normal((min(10_000, words - start), dim), np.float32)
            for i, vec in enumerate(block, start):
                f.write(f"word_{i} ".encode() + vec.tobytes())


def startup(spec: str, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", CHILD, spec], capture_output=True, text=True)
        out.check_returncode()
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "s_median": statistics.median(r["s"] for r in runs),
        "s_runs": [round(r["s"], 3) for r in runs],
        "rss_mb": round(max(r["rss_mb"] for r in runs), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--words", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="results/bench/word2vec.json")
    args = ap.parse_args()
    from eao.backbones.word2vec import convert

    with tempfile.TemporaryDirectory() as tmp:
        source, folder = os.path.join(tmp, "vectors.bin"), os.path.join(tmp, "vectors.kv")
        write_binary(source, args.words, args.dim)
        t = time.perf_counter()
        convert(source, folder)
        result = {
            "words": args.words,
            "dim": args.dim,
            "binary_mb": round(os.path.getsize(source) / 2**20, 1),
            "convert_s": round(time.perf_counter() - t, 2),
            "before": startup(source, args.repeats),
            "after": startup(folder, args.repeats),
        }
    result["speedup"] = round(result["before"]["s_median"] / result["after"]["s_median"], 1)
    result["baseline_is"] = "gensim load_word2vec_format of the binary + sha256 of the file"
    print(json.dumps(write_result(args.out, result), indent=1))


if __name__ == "__main__":
    main()
