"""What `eao serve` holds in memory: the indexes it was given, each with its model and text
encoder loaded once, and the one place a request becomes a file.

A request names a video by its number in the index's list of videos, never by a path, and
`video_file` gives the file only when it is a regular file inside the folder the index lists
it in, after symlinks are resolved: `../`, absolute paths and links out of that folder find
nothing (404).
"""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from eao.errors import BadInput
from eao.evaluate.queries import QueryEncoder
from eao.evaluate.search import SearchIndex, load_index_model

MAX_K = 100  # results a request may ask for
MAX_QUERY_CHARS = 500
# a video or window number from a URL: ASCII digits only (str.isdigit also takes '²', which
# int() refuses), short enough that int() never meets Python's digit limit
NUMBER = re.compile(r"[0-9]{1,12}")


class QueryError(Exception):
    """A request the server answers with `status` and `message` (page and API alike)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Served:
    """One index: its windows and search, its query encoder, and its videos by number."""

    name: str
    index: SearchIndex
    encoder: QueryEncoder
    model_path: str
    videos: list[str] = field(default_factory=list)  # video ids; a request's number is a place
    roots: list[str] = field(default_factory=list)  # resolved folders links may point into
    paths: dict[str, str] = field(default_factory=dict)  # video id -> path as the index lists it

    def __post_init__(self) -> None:
        self.numbers = {vid: i for i, vid in enumerate(self.videos)}

    def number(self, video_id: str) -> int:
        return self.numbers[video_id]

    def describe(self) -> dict:
        m = self.index.meta
        return {
            "name": self.name,
            "windows": len(self.index),
            "videos": len(self.videos),
            "search": self.index.search_kind,
            "model": self.model_path,
            "text_encoder": f"{m['text_encoder']} ({m['text_weights'] or 'random'})",
            "query_dtype": str(self.encoder.dtype).removeprefix("torch."),
        }


def index_name(path: str, taken: set[str]) -> str:
    """The index's file stem; `stem-2`, `stem-3`... when two files share one."""
    stem, n = Path(path).stem, 1
    name = stem
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    return name


def open_served(
    paths: list[str],
    device: str,
    tokenizer: str | None = None,
    dtype: str = "float32",
    roots: list[str] = (),
) -> dict[str, Served]:
    """Every index opened, each model loaded once however many indexes share it. `roots`:
    folders a listed video may be a link into (video storage behind a data root of links)."""
    models: dict[str, torch.nn.Module] = {}
    locks: dict[str, threading.Lock] = {}  # one per model: encoders sharing it take turns
    served: dict[str, Served] = {}
    for path in paths:
        index = SearchIndex(path)
        model_path = os.path.normpath(Path(path).parent / index.meta["model"])
        if model_path not in models:
            models[model_path] = load_index_model(index).to(device)
            locks[model_path] = threading.Lock()
        encoder = QueryEncoder(index.meta, models[model_path], device, tokenizer, dtype)
        encoder.lock = locks[model_path]
        ids = index.windows["video_id"].to_pylist()
        listed = dict(zip(ids, index.windows["path"].to_pylist(), strict=True))
        name = index_name(path, set(served))
        real_roots = [os.path.realpath(r) for r in roots]
        served[name] = Served(
            name, index, encoder, model_path, videos=list(listed), paths=listed, roots=real_roots
        )
    return served


def pick(served: dict[str, Served], name: str | None) -> Served:
    if not name:
        return next(iter(served.values()))
    if name not in served:
        have = ", ".join(served)
        raise QueryError(404, f"no index named {name!r} (this server has: {have})")
    return served[name]


def parse_k(value: str | None, default: int = 10) -> int:
    if value is None or value == "":
        return default
    try:
        k = int(value)
    except ValueError:
        raise QueryError(400, f"k must be a whole number, not {value[:20]!r}") from None
    if not 1 <= k <= MAX_K:
        raise QueryError(400, f"k must be between 1 and {MAX_K}, not {k}")
    return k


def finite(x: float | None) -> float | None:
    """JSON has no NaN or infinity (Starlette refuses them): null instead."""
    return x if x is not None and math.isfinite(x) else None


def run_query(served: dict[str, Served], q: str | None, k: str | None, name: str | None) -> dict:
    """What the page shows and the API returns for one request; QueryError for a bad one."""
    target = pick(served, name)
    query = (q or "").strip()
    if not query:
        raise QueryError(400, "empty query: type what to look for")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            400, f"query too long: {len(query)} characters (at most {MAX_QUERY_CHARS})"
        )
    top = parse_k(k)
    try:
        embedding = target.encoder.embed([query])[0]
    except BadInput as e:
        raise QueryError(400, f"{e} in {query!r}: try other words") from None
    hits = target.index.search(embedding, top)
    results = [
        {
            "rank": rank,
            "video_id": hit["video_id"],
            "start_s": finite(hit["start_s"]),
            "end_s": finite(hit["end_s"]),
            "score": finite(round(float(hit["score"]), 6)),
            "thumbnail": f"/thumb/{target.name}/{hit['row']}.jpg",
            "video": f"/video/{target.name}/{target.number(hit['video_id'])}",
        }
        for rank, hit in enumerate(hits, 1)
    ]
    return {"query": query, "k": top, "index": target.describe(), "results": results}


def video_file(served: dict[str, Served], name: str, number: str | int) -> Path | None:
    """The file of video `number` of index `name`, or None (the caller's 404) for anything
    but a regular file inside the folder its index lists it in. A relative path is relative
    to the server's folder, as the workflow that wrote the index ran in it."""
    target = served.get(name)
    number = str(number)
    if target is None or not NUMBER.fullmatch(number) or int(number) >= len(target.videos):
        return None
    listed = target.paths[target.videos[int(number)]]
    if not listed:
        return None
    folder = os.path.realpath(os.path.dirname(os.path.abspath(listed)))
    real = os.path.realpath(listed)
    inside = any(os.path.commonpath([r, real]) == r for r in [folder, *target.roots])
    return Path(real) if inside and os.path.isfile(real) else None


def missing_videos(target: Served) -> int:
    """How many of the index's videos are not found from the current folder."""
    return sum(not os.path.isfile(p) for p in target.paths.values())


def window(served: dict[str, Served], name: str, row: str) -> tuple[Path, float] | None:
    """The video file and the middle of window `row` of index `name` (its thumbnail's
    frame), or None."""
    target = served.get(name)
    if target is None or not NUMBER.fullmatch(row) or int(row) >= len(target.index):
        return None
    w = target.index.windows.slice(int(row), 1).to_pylist()[0]
    path = video_file(served, name, target.number(w["video_id"]))
    return None if path is None else (path, (w["start_s"] + w["end_s"]) / 2)
