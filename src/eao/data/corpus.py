"""Random access to one dataset's feature shards by video (docs/features.md for the schemas).

HowTo100M has 1.2 M videos, so nothing here loads a corpus: the index is built from the
`video_id` column alone (video -> file, first row, row count, as numpy arrays), and a lookup
reads the whole row group(s) holding the rows, memory-mapped and projected to the needed
columns, through a small per-process LRU cache. Files are opened lazily in each process, so a
FeatureTables pickles cheaply into DataLoader workers (and is reopened after a fork).

    tables = FeatureTables(video_2d=["results/features/resnet152/howto/shard-00000.parquet"],
                           text=["results/features/text_hf/howto/shard-00000.parquet"])
    tables.visual("2d", tables.video_ids()[0])   # (T2, 2048) float16, read-only

The shard files are always given: nothing here looks for files, so a job reads exactly the
shards the workflow declares as its inputs.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eao.backbones.registry import backbone, names
from eao.errors import BadInput, reading
from eao.io.parquet import check_table

log = logging.getLogger(__name__)

VISUAL = ("2d", "3d")
KINDS = ("2d", "3d", "audio", "text", "captions")
COLUMNS = {  # column projection of each kind's reads
    "2d": ("features",),
    "3d": ("features",),
    "audio": ("features", "has_audio"),
    "text": ("segment", "start_s", "end_s", "features"),
    "captions": ("segment", "start_s", "end_s"),
}
DEFAULT_RATE = {"2d": 1.0, "3d": 1.5, "audio": 100.0}
# the `table` key of each kind's files: a media kind's are its registered backbones'
# (eao.backbones.registry), text and captions those of eao.features.text and eao.ingest.manifest
TABLES = {
    **{kind: tuple(backbone(n).table for n in names(kind)) for kind in ("2d", "3d", "audio")},
    "text": ("text_features/",),
    "captions": ("captions",),
}


def _runs(ids: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(video ids, first row, row count) of the runs of equal consecutive ids in a column."""
    enc = ids.combine_chunks().dictionary_encode()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    if len(codes) == 0:
        return np.array([], dtype=object), np.zeros(0, np.int64), np.zeros(0, np.int64)
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    count = np.diff(np.r_[first, len(codes)])
    names = np.asarray(enc.dictionary.to_pylist(), dtype=object)[codes[first]]
    return names, first.astype(np.int64), count.astype(np.int64)


def _decode(table: pa.Table) -> dict[str, np.ndarray | tuple[np.ndarray, np.ndarray]]:
    """numpy views of a row group: list<fixed_size_list> columns become (row offsets, values
    (n, D)); scalar columns plain arrays."""
    out = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if pa.types.is_list(col.type):
            offsets = col.offsets.to_numpy()
            inner = col.flatten()  # respects the list offsets
            dim = inner.type.list_size
            values = inner.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
            out[name] = (offsets - offsets[0], values)
        else:
            out[name] = col.to_numpy(zero_copy_only=False)
    return out


class _Shards:
    """One kind's shard files: per-file row-group offsets, lazily opened files and an LRU cache
    of decoded row groups (per process)."""

    def __init__(
        self, kind: str, paths: Sequence[str | os.PathLike], cache_groups: int, max_open: int = 64
    ):
        self.kind, self.paths = kind, [str(p) for p in paths]
        self.columns = list(COLUMNS[kind])
        self.cache_groups, self.max_open = cache_groups, max_open
        # BadInput naming a file of another kind, e.g. a failures-NNNNN.parquet given as a shard
        columns = ["video_id", *self.columns]
        metas = [check_table(p, TABLES[kind], columns, what=kind) for p in self.paths]
        self.group_starts = [
            np.cumsum([0] + [m.row_group(g).num_rows for g in range(m.num_row_groups)])
            for m in metas
        ]
        schema = metas[0].schema.to_arrow_schema()
        feats = schema.field("features").type if "features" in schema.names else None
        self.dim = feats.value_type.list_size if feats is not None else 0
        kv = metas[0].metadata or {}
        rate = kv.get(b"features_per_second")
        self.rate = float(rate) if rate else DEFAULT_RATE.get(kind, 0.0)
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._files: OrderedDict[int, pq.ParquetFile] = OrderedDict()
        self._groups: OrderedDict[tuple[int, int], dict] = OrderedDict()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_files", "_groups", "_pid"):
            state.pop(key)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    def index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(video ids, file, first row, row count) of every video run in every file, from the
        video_id column only."""
        parts = []
        for f, path in enumerate(self.paths):
            with reading(path):
                ids = pq.read_table(path, columns=["video_id"], memory_map=True)["video_id"]
            names, first, count = _runs(ids)
            parts.append((names, np.full(len(names), f, np.int32), first, count))
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))

    def _file(self, f: int) -> pq.ParquetFile:
        if self._pid != os.getpid():  # forked: handles and cache belong to the parent
            self._reset()
        if f in self._files:
            self._files.move_to_end(f)
        else:
            self._files[f] = pq.ParquetFile(self.paths[f], memory_map=True)
            if len(self._files) > self.max_open:  # HowTo100M has thousands of shards
                self._files.popitem(last=False)
        return self._files[f]

    def _group(self, f: int, g: int) -> dict:
        pf = self._file(f)
        key = (f, g)
        if key in self._groups:
            self._groups.move_to_end(key)
            return self._groups[key]
        with reading(self.paths[f]):  # a damaged row group: its file is named
            group = _decode(pf.read_row_group(g, columns=self.columns))
        self._groups[key] = group
        if len(self._groups) > self.cache_groups:
            self._groups.popitem(last=False)
        return group

    def rows(self, f: int, first: int, count: int) -> list[dict]:
        """Rows [first, first + count) of file f as dicts of numpy values (views into the
        cached row group; do not write to them)."""
        starts = self.group_starts[f]
        out = []
        g = int(np.searchsorted(starts, first, side="right")) - 1
        row = first
        while row < first + count:
            group = self._group(f, g)
            stop = min(first + count, int(starts[g + 1]))
            for r in range(row - int(starts[g]), stop - int(starts[g])):
                out.append(
                    {
                        name: (
                            col[1][col[0][r] : col[0][r + 1]] if isinstance(col, tuple) else col[r]
                        )
                        for name, col in group.items()
                    }
                )
            row, g = stop, g + 1
        return out


class FeatureTables:
    """video_id -> rows of one dataset's feature shards, one list of shard files per kind:
    `video_2d` (ResNet-152 or CLIP), `video_3d` (ResNeXt-101), `audio` (log-mel), `text` (per
    caption segment token features), `captions` (optional: caption timings from the manifest's
    captions table; without it the text table's start_s/end_s are the timings).

    The videos are those of the visual tables (a video missing from all of them, e.g. a failed
    extraction, is dropped and counted in the log); without visual tables, those of any table.
    A video missing from one kind's tables reads as None / no segments for that kind.
    """

    def __init__(
        self,
        video_2d: Sequence[str | os.PathLike] = (),
        video_3d: Sequence[str | os.PathLike] = (),
        audio: Sequence[str | os.PathLike] = (),
        text: Sequence[str | os.PathLike] = (),
        captions: Sequence[str | os.PathLike] = (),
        cache_groups: int = 2,
    ):
        given = dict(zip(KINDS, (video_2d, video_3d, audio, text, captions), strict=True))
        self._shards = {k: _Shards(k, p, cache_groups) for k, p in given.items() if p}
        if not self._shards:
            raise BadInput("no feature shards given (none of any kind)")
        self._build_index()

    def _build_index(self) -> None:
        located = {k: s.index() for k, s in self._shards.items()}
        keep_kinds = [k for k in VISUAL if k in located] or list(located)
        names = np.concatenate([located[k][0] for k in keep_kinds])
        _, first = np.unique(names.astype(str), return_index=True)
        self._ids = names[np.sort(first)].astype(str)  # first appearance: manifest order
        self._order = np.argsort(self._ids)
        self._sorted = self._ids[self._order]
        everything = np.unique(np.concatenate([v[0] for v in located.values()]).astype(str))
        dropped = len(everything) - len(self._ids)
        if dropped:
            log.warning(
                "%d video(s) have no visual features (failed extraction?): dropped", dropped
            )
        self._loc = {k: self._align(k, *v) for k, v in located.items()}

    def _align(
        self, kind: str, names: np.ndarray, file: np.ndarray, first: np.ndarray, count: np.ndarray
    ) -> np.ndarray:
        """(n_videos, 3) int64 rows [file, first row, count] in index order, file -1 = absent."""
        loc = np.full((len(self._ids), 3), -1, np.int64)
        pos = self._positions(names.astype(str))
        valid = np.flatnonzero(pos >= 0)
        # A video in two shards (or with non-contiguous rows) has several runs: keep the first.
        _, keep = np.unique(pos[valid], return_index=True)
        rows = valid[keep]
        loc[pos[rows]] = np.stack([file[rows], first[rows], count[rows]], axis=1)
        duplicates = len(valid) - len(rows)
        if duplicates:
            log.warning("%s tables: %d repeated video run(s) ignored", kind, duplicates)
        return loc

    def _positions(self, names: np.ndarray) -> np.ndarray:
        """Index of each name (-1 when not a video of the index)."""
        i = np.searchsorted(self._sorted, names)
        i = np.minimum(i, len(self._sorted) - 1)
        hit = self._sorted[i] == names if len(self._sorted) else np.zeros(len(names), bool)
        return np.where(hit, self._order[i] if len(self._sorted) else -1, -1)

    # -- lookups -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ids)

    def video_ids(self) -> list[str]:
        return self._ids.tolist()

    def video_id(self, index: int) -> str:
        return str(self._ids[index])

    def index_of(self, video_id: str | int) -> int:
        if isinstance(video_id, int | np.integer):
            return int(video_id)
        i = int(self._positions(np.array([video_id]))[0])
        if i < 0:
            raise KeyError(f"video {video_id!r} is not in these feature tables")
        return i

    def has(self, kind: str) -> bool:
        return kind in self._shards

    def dim(self, kind: str) -> int:
        """Feature width of a kind (40 for the log-mel)."""
        return self._shards[kind].dim

    def rate(self, kind: str) -> float:
        """Features per second (the shard metadata's features_per_second)."""
        return self._shards[kind].rate

    def row_groups(self) -> np.ndarray:
        """Per video, a number naming the row group holding its first visual row (2D, else 3D;
        -1 when absent there): videos with the same number are decoded together."""
        kind = next(k for k in KINDS if k in self._shards)
        shard, loc = self._shards[kind], self._loc[kind]
        before = np.cumsum([0] + [len(g) - 1 for g in shard.group_starts])  # groups of files < f
        out = np.full(len(self), -1, np.int64)
        for f, starts in enumerate(shard.group_starts):
            mine = loc[:, 0] == f
            out[mine] = np.searchsorted(starts, loc[mine, 1], side="right") - 1 + before[f]
        return out

    def _rows(self, kind: str, video_id: str | int) -> list[dict]:
        if kind not in self._shards:
            return []
        f, first, count = self._loc[kind][self.index_of(video_id)]
        return [] if f < 0 else self._shards[kind].rows(int(f), int(first), int(count))

    def visual(self, kind: str, video_id: str | int) -> np.ndarray | None:
        """(T, D) features of kind "2d" or "3d" (float16 as stored; read-only); None when the
        video has no row there."""
        if kind not in VISUAL:
            raise ValueError(f"visual kind must be one of {VISUAL}, not {kind!r}")
        rows = self._rows(kind, video_id)
        return rows[0]["features"] if rows else None

    def audio(self, video_id: str | int) -> np.ndarray | None:
        """(T, n_mels) audio frames (the log-mel's: dB, float16, frame k centred at k*0.01 s);
        None when the video has no audio stream or no row."""
        rows = self._rows("audio", video_id)
        if not rows or not rows[0]["has_audio"]:
            return None
        return rows[0]["features"]

    def text_segments(self, video_id: str | int) -> list[dict]:
        """The video's caption segments sorted by start (HowTo ASR order; the sampler
        binary-searches the starts): dicts segment, start_s, end_s, features (n, D) float32.
        With a captions table, its timings; features matched by `segment` (none: (0, D))."""
        text = self._rows("text", video_id)
        if "captions" in self._shards:
            feats = {int(r["segment"]): r["features"] for r in text}
            empty = np.zeros((0, self.dim("text") if self.has("text") else 0), np.float32)
            segs = [
                dict(
                    segment=int(r["segment"]),
                    start_s=float(r["start_s"]),
                    end_s=float(r["end_s"]),
                    features=feats.get(int(r["segment"]), empty),
                )
                for r in self._rows("captions", video_id)
            ]
        else:
            segs = [
                dict(
                    segment=int(r["segment"]),
                    start_s=float(r["start_s"]),
                    end_s=float(r["end_s"]),
                    features=r["features"],
                )
                for r in text
            ]
        return sorted(segs, key=lambda s: (s["start_s"], s["segment"]))
