"""A fingerprint of an output file's VALUES, robust to what changes between identical runs.

Not a hash of the bytes: Parquet footers, TensorBoard events, PNG metadata and checkpoints carry
writer versions, times and absolute paths. A fingerprint is {"hash": ..., "floats": [n, sum,
sum|x|, sum x^2, sum x*w]}: the hash covers everything but the floating-point numbers (structure,
ids, strings with the run's folder replaced, integers, shapes); the floats are summarised so that
two fingerprints can be compared with a tolerance (a CPU with other vector units may round the
last bit of a float32 differently; a real change of a stage's output moves these sums far more),
and the position-weighted sum (w_i = cos(0.7071 i)) catches a reordering.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

# Keys whose values are not outputs: wall-clock figures, and a checkpoint's random-number
# generator state (where a resume would continue; the weights are the model).
CLOCK_KEYS = {"clips_per_s", "seconds", "wall_s", "elapsed_s", "time_s", "duration_wall_s", "rng"}
TEXT_SUFFIXES = {".csv", ".tsv", ".md", ".tex", ".html", ".txt", ".srt", ".json", ".jsonl"}
RTOL = 1e-3


class _Split:
    """Walks a value tree: floats go to `floats`, everything else into a hashable skeleton."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = str(workdir)
        self.floats: list[np.ndarray] = []

    def walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                str(k): self.walk(v)
                for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                if k not in CLOCK_KEYS
            }
        if isinstance(value, list | tuple):
            return [self.walk(v) for v in value]
        if isinstance(value, float):
            self.floats.append(np.asarray([value], dtype=np.float64))
            return "f"
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, str):
            return value.replace(self.workdir, "<workdir>")
        if isinstance(value, bytes):
            return hashlib.sha256(value).hexdigest()[:16]
        return value

    def array(self, a: np.ndarray) -> Any:
        if np.issubdtype(a.dtype, np.floating):
            self.floats.append(a.astype(np.float64).ravel())
            return ["float-array", list(a.shape)]
        return ["array", str(a.dtype), list(a.shape), hashlib.sha256(a.tobytes()).hexdigest()[:16]]

    def result(self, skeleton: Any) -> dict:
        text = json.dumps(skeleton, sort_keys=True, default=str)
        x = np.concatenate(self.floats) if self.floats else np.zeros(0)
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        # position-weighted too: a permutation (frames out of order) keeps the plain sums
        weights = np.cos(np.arange(x.size) * 0.7071)
        stats = [
            int(x.size),
            float(x.sum()),
            float(np.abs(x).sum()),
            float((x * x).sum()),
            float((x * weights).sum()),
        ]
        return {"hash": hashlib.sha256(text.encode()).hexdigest()[:16], "floats": stats}


def _parquet(path: Path) -> Any:
    """Each column as its list lengths at every nesting level and its leaf values (floats as
    one numpy array: a feature shard holds hundreds of thousands)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = {}
    for name in table.column_names:
        values, lengths = table.column(name).combine_chunks(), []
        while pa.types.is_list(values.type) or pa.types.is_fixed_size_list(values.type):
            lengths.append(pc.list_value_length(values).fill_null(-1).to_numpy())
            values = pc.list_flatten(values)
        if pa.types.is_floating(values.type):
            leaf = values.fill_null(float("nan")).to_numpy(zero_copy_only=False)
        else:
            leaf = values.to_pylist()
        columns[name] = {"lengths": lengths, "values": leaf}
    return columns


def _torch(path: Path) -> Any:
    import torch

    def to_numpy(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return v.detach().float().numpy() if v.is_floating_point() else v.numpy()
        if isinstance(v, dict):
            return {k: to_numpy(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [to_numpy(x) for x in v]
        return v

    return to_numpy(torch.load(path, weights_only=True, map_location="cpu"))


def _png(path: Path) -> Any:
    import matplotlib.image

    return np.asarray(matplotlib.image.imread(path), dtype=np.float32)


def _media(path: Path) -> Any:
    """The decoded frames (grey, as stored) and audio of a video: what the stages downstream see."""

    def decode(*args: str) -> np.ndarray:
        cmd = ["ffmpeg", "-v", "error", "-i", str(path), *args, "-"]
        out = subprocess.run(cmd, capture_output=True, check=False, timeout=120).stdout
        return np.frombuffer(out, dtype=np.uint8).astype(np.float32)

    return {
        "video": decode("-an", "-f", "rawvideo", "-pix_fmt", "gray"),
        "audio": decode("-vn", "-f", "s16le", "-ac", "1"),
    }


def _word2vec(folder: Path) -> Any:
    """A converted word2vec folder: its words, vectors and source record (gensim's pickle of
    the vocabulary is not byte-stable)."""
    from eao.backbones.word2vec import load_converted

    kv, record = load_converted(folder)
    return {"words": list(kv.index_to_key), "vectors": np.asarray(kv.vectors), "source": record}


def read_values(path: Path) -> Any:
    """The values a file (or a converted word2vec folder) holds, as Python and numpy values."""
    if path.is_dir() and path.suffix == ".kv":
        return _word2vec(path)
    if path.suffix == ".parquet":
        return _parquet(path)
    if path.suffix == ".pt":
        return _torch(path)
    if path.suffix == ".png":
        return _png(path)
    if path.suffix == ".mp4":
        return _media(path)
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if path.suffix in TEXT_SUFFIXES:
        return path.read_text()
    return path.read_bytes()


def fingerprint(path: Path, workdir: Path) -> dict:
    split = _Split(workdir)
    return split.result(split.walk(read_values(path)))


def differs(a: dict, b: dict, rtol: float = RTOL) -> bool:
    """Whether two fingerprints differ: another skeleton, or float sums apart by more than rtol
    of their magnitude."""
    if a["hash"] != b["hash"] or a["floats"][0] != b["floats"][0]:
        return True
    _, s_a, abs_a, sq_a, w_a = a["floats"]
    _, s_b, abs_b, sq_b, w_b = b["floats"]
    scale = rtol * max(abs_a, abs_b, 1e-9)
    close = [
        math.isclose(s_a, s_b, rel_tol=0, abs_tol=scale),
        math.isclose(w_a, w_b, rel_tol=0, abs_tol=scale),
        math.isclose(abs_a, abs_b, rel_tol=rtol, abs_tol=1e-9),
        math.isclose(sq_a, sq_b, rel_tol=rtol, abs_tol=1e-9),
    ]
    return not all(close)
