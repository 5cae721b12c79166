"""Training clips and benchmark clips from tiny Parquet shards (spec model.md 3.2, 10 item 8).

The fixture corpus codes every value with its origin: visual row i is 3*e_i, log-mel frame k
holds k // 100 and k % 100 in bands 0 and 1, token m of caption segment j is [j, m, 1, 0...],
so each test can name exactly which rows, frames and words a clip got.
"""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader

import eao.features.shards as shards
from eao.data.benchmarks import retrieval_clips, segment_rows, video_rows
from eao.data.clips import (
    ClipDataset,
    ClipPlan,
    collate_clips,
    grow,
    locality_order,
    plan_clip,
    seed_caption,
)
from eao.data.corpus import FeatureTables
from eao.data.tokens import nearest_indices

D2 = D3 = 32
DT = 8
# v0's captions: index 0..4 (segment ids deliberately not in start order for 1 and 2)
V0_CAPTIONS = [(0, 0.0, 2.0), (2, 3.0, 4.5), (1, 5.0, 8.5), (3, 9.0, 12.0), (4, 14.0, 16.0)]
STARTS = np.array([c[1] for c in V0_CAPTIONS])
ENDS = np.array([c[2] for c in V0_CAPTIONS])


def one_hot(n: int, dim: int = 32) -> np.ndarray:
    return (3 * np.eye(n, dim)).astype(np.float16)


def coded_logmel(n: int) -> np.ndarray:
    k = np.arange(n)
    out = np.zeros((n, 40), np.float16)
    out[:, 0], out[:, 1] = k // 100, k % 100
    return out


def words(segment: int, n: int) -> np.ndarray:
    w = np.zeros((n, DT), np.float32)
    w[:, 0], w[:, 1], w[:, 2] = segment, np.arange(n), 1.0
    return w


def write_visual(
    path,
    videos: dict[str, np.ndarray],
    rate: float,
    audio: bool = False,
    has_audio: dict | None = None,
) -> None:
    dim = 40 if audio else D2
    cols = {
        "video_id": list(videos),
        "times_s": [((np.arange(len(f)) + 0.5) / rate).tolist() for f in videos.values()],
        "features": shards.features_array(list(videos.values()), dim, pa.float16()),
    }
    if audio:
        cols["has_audio"] = [has_audio.get(v, True) for v in videos]
    shards.write_features(
        str(path), cols, shards.visual_schema(dim, audio=audio), {"features_per_second": rate}
    )


def write_text(path, captions: dict[str, list[tuple[int, float, float, int]]]) -> None:
    rows = [(v, seg, a, b, n) for v, caps in captions.items() for seg, a, b, n in caps]
    cols = {
        "video_id": [r[0] for r in rows],
        "segment": [r[1] for r in rows],
        "start_s": [r[2] for r in rows],
        "end_s": [r[3] for r in rows],
        "tokens": [[f"w{m}" for m in range(r[4])] for r in rows],
        "features": shards.features_array([words(r[1], r[4]) for r in rows], DT, pa.float32()),
    }
    shards.write_features(str(path), cols, shards.text_schema(DT), {"backbone": "test"})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, list[str]]:
    """v0 20 s, 5 captions; v1 no audio stream; v2 3D extraction failed, no captions;
    v3 no visual features at all (dropped); v4 6 s. 2 rows per row group, two 2D shards."""
    root = tmp_path_factory.mktemp("corpus")
    mp = pytest.MonkeyPatch()
    mp.setattr(shards, "VIDEOS_PER_GROUP", 2)  # several row groups from a handful of videos
    mp.setattr(shards, "SEGMENTS_PER_GROUP", 2)
    try:
        write_visual(root / "2d-0.parquet", {"v0": one_hot(20), "v1": one_hot(10)}, 1.0)
        write_visual(root / "2d-1.parquet", {"v2": one_hot(12), "v4": one_hot(6)}, 1.0)
        write_visual(
            root / "3d-0.parquet", {"v0": one_hot(30), "v1": one_hot(15), "v4": one_hot(9)}, 1.5
        )
        write_visual(
            root / "audio-0.parquet",
            {
                "v0": coded_logmel(2001),
                "v1": np.zeros((0, 40)),
                "v2": coded_logmel(1201),
                "v3": coded_logmel(501),
                "v4": coded_logmel(601),
            },
            100.0,
            audio=True,
            has_audio={"v1": False},
        )
        write_text(
            root / "text-0.parquet",
            {
                "v0": [(seg, a, b, 6 + seg) for seg, a, b in V0_CAPTIONS],
                "v1": [(0, 1.0, 4.0, 3), (1, 4.5, 9.0, 0)],  # segment 1: every word OOV
                "v3": [(0, 0.0, 3.0, 4)],
                "v4": [(0, 0.5, 2.5, 5), (1, 3.0, 5.5, 30)],
            },
        )
    finally:
        mp.undo()
    return {
        "video_2d": [str(root / "2d-0.parquet"), str(root / "2d-1.parquet")],
        "video_3d": [str(root / "3d-0.parquet")],
        "audio": [str(root / "audio-0.parquet")],
        "text": [str(root / "text-0.parquet")],
    }


@pytest.fixture
def tables(corpus) -> FeatureTables:
    return FeatureTables(**corpus)


class FixedRng:
    """Stands in for np.random.default_rng: a fixed clip start and a fixed coin."""

    def __init__(self, start: float, coin: float = 0.25):
        self.start, self.coin = start, coin

    def uniform(self, low: float, high: float) -> float:
        return self.start

    def random(self) -> float:
        return self.coin


def fixed_start(monkeypatch, start: float, coin: float = 0.25) -> None:
    monkeypatch.setattr(np.random, "default_rng", lambda *a, **k: FixedRng(start, coin))


# -- index and reading -------------------------------------------------------------------------
def test_index_rows_and_missing_kinds(tables, corpus, caplog):
    assert pq.read_metadata(corpus["text"][0]).num_row_groups == 5  # 10 segments, 2 per group
    assert pq.read_metadata(corpus["audio"][0]).num_row_groups == 3
    with caplog.at_level(logging.WARNING):
        fresh = FeatureTables(**corpus)
    assert "1 video(s) have no visual features" in caplog.text
    assert fresh.video_ids() == ["v0", "v1", "v2", "v4"]  # v3 dropped, shard order kept
    assert tables.dim("2d") == 32 and tables.dim("audio") == 40 and tables.dim("text") == DT
    assert (tables.rate("2d"), tables.rate("3d")) == (1.0, 1.5)
    np.testing.assert_array_equal(tables.visual("2d", "v4"), one_hot(6))  # second file
    np.testing.assert_array_equal(tables.visual("3d", "v1"), one_hot(15))
    assert tables.visual("3d", "v2") is None  # failed extraction: None, no crash
    assert tables.audio("v1") is None  # has_audio false
    np.testing.assert_array_equal(tables.audio("v2"), coded_logmel(1201))  # row group 2
    segs = tables.text_segments("v0")  # spans row groups 0-2
    assert [s["segment"] for s in segs] == [0, 2, 1, 3, 4]  # by start time
    assert [s["features"].shape[0] for s in segs] == [6, 8, 7, 9, 10]
    np.testing.assert_array_equal(segs[1]["features"], words(2, 8))
    assert tables.text_segments("v2") == []
    assert tables.text_segments("v1")[1]["features"].shape == (0, DT)
    with pytest.raises(KeyError):
        tables.visual("2d", "v3")


def test_only_whole_row_groups_are_cached(tables):
    shard = tables._shards["2d"]
    shard.cache_groups = 1
    for vid in ("v0", "v1", "v2", "v4", "v0"):
        tables.visual("2d", vid)
    assert list(shard._groups) == [(0, 0)]


def test_row_group_locality(tables):
    assert tables.row_groups().tolist() == [0, 0, 1, 1]  # v0 v1 | v2 v4 (two files)
    groups = np.repeat(np.arange(10), 4)
    order = locality_order(groups, seed=0, epoch=0, window=2)
    assert sorted(order.tolist()) == list(range(40))
    windows = [set(groups[order[i : i + 8]].tolist()) for i in range(0, 40, 8)]
    assert all(len(w) == 2 for w in windows)  # 8 consecutive videos come from 2 row groups
    assert not np.array_equal(order, locality_order(groups, seed=0, epoch=1, window=2))
    ds = ClipDataset(tables, n_clips=2)
    keys = [(0, 3), (0, 0), (1, 2), (0, 1)]
    for got, key in zip(ds.__getitems__(keys), keys, strict=True):  # same items, same order
        np.testing.assert_array_equal(got["video"], ds[key]["video"])


def test_captions_table_gives_the_timings(corpus, tmp_path):
    caps = tmp_path / "captions.parquet"
    pq.write_table(
        pa.table(
            {
                "video_id": ["v0", "v0", "v2"],
                "segment": [0, 5, 0],
                "start_s": [0.0, 6.0, 1.0],
                "end_s": [2.0, 7.0, 9.0],
                "text": ["a", "b", "c"],
            }
        ),
        caps,
    )
    tables = FeatureTables(**corpus, captions=[str(caps)])
    segs = tables.text_segments("v0")
    assert [(s["segment"], s["start_s"]) for s in segs] == [(0, 0.0), (5, 6.0)]
    np.testing.assert_array_equal(segs[0]["features"], words(0, 6))
    assert segs[1]["features"].shape == (0, DT)  # no text features for segment 5
    assert [s["segment"] for s in tables.text_segments("v2")] == [0]


# -- the sampler's rules -----------------------------------------------------------------------
def test_seed_caption_rules():
    assert seed_caption(3.2, 11.2, STARTS, ENDS) == 1  # caption 1 covers the start
    assert seed_caption(2.5, 10.5, STARTS, ENDS) == 3  # start in a gap, caption 3 covers the end
    assert seed_caption(12.5, 20.5, STARTS, ENDS) is None  # no narration
    # The candidate is the last caption starting *strictly* before t (searchsorted 'left' - 1):
    # a start equal to caption 2's start is checked against caption 1 (reference behaviour).
    assert seed_caption(5.0, 13.0, STARTS, ENDS) is None
    assert seed_caption(0.0, 8.0, STARTS, ENDS) == 0
    assert seed_caption(1.0, 9.0, np.array([]), np.array([])) is None


def test_grow_appends_neighbours_after_the_seed():
    assert grow(1, STARTS, ENDS, 8.0) == [1, 0, 2]  # prev (span 4.5) beats next (5.5)
    assert grow(3, STARTS, ENDS, 8.0) == [3, 2, 1]  # tie 12-5 = 16-9: previous; then 9 < 11
    assert grow(4, STARTS, ENDS, 8.0) == [4, 3, 2]  # only previous neighbours
    assert grow(0, STARTS, ENDS, 20.0) == [0, 1, 2, 3, 4]  # runs out of captions
    assert grow(2, STARTS, ENDS, 3.0) == [2]  # already long enough


def test_plan_clip_windows():
    rng = FixedRng(0.0)
    assert plan_clip(3.2, STARTS, ENDS, 8.0, "code", rng) == ClipPlan(
        0.0, 8.5, (1, 0, 2), 4.0, 12.0
    )
    assert plan_clip(3.2, STARTS, ENDS, 8.0, "none", rng) == ClipPlan(0.0, 8.5, (1, 0, 2), 0.0, 8.5)
    assert plan_clip(3.2, STARTS, ENDS, 8.0, "paper", FixedRng(0, 0.25)).audio_start == 4.0
    late = plan_clip(10.0, STARTS, ENDS, 8.0, "paper", FixedRng(0, 0.75))
    assert (late.start, late.end, late.audio_start, late.audio_end) == (3.0, 12.0, -1.0, 7.0)
    assert plan_clip(12.5, STARTS, ENDS, 8.0, "code", rng) == ClipPlan(12.5, 20.5, (), 12.5, None)
    with pytest.raises(ValueError):
        plan_clip(3.2, STARTS, ENDS, 8.0, "backwards", rng)


def video_rows_of(item: dict, clip: int, n: int) -> tuple[list[int], list[int]]:
    v = item["video"][clip, :n]
    return v[:, :D2].argmax(1).tolist(), v[:, D2:].argmax(1).tolist()


def test_narrated_clip_exactly(tables, monkeypatch):
    """Spec 10 item 8: start 3.2 s in v0 -> captions [1, 0, 2], clip [0, 8.5] s, audio from
    0 + 4 s, 2D rows [0, 9) upsampled to 3D rows [0, 13) (the spec's T2=9, T3=13 example)."""
    fixed_start(monkeypatch, 3.2)
    item, plans = ClipDataset(tables, n_clips=2).sample(0, 0)
    assert plans == [ClipPlan(0.0, 8.5, (1, 0, 2), 4.0, 12.0)] * 2
    assert video_rows_of(item, 0, 12) == ([0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7], list(range(12)))
    assert item["video_mask"][0].sum() == 12
    # words: seed caption (index 1 = segment 2, 8 words), then index 0 (segment 0, 6 words),
    # then index 2 (segment 1, 7 words) cut at 20 words
    text = item["text"][0]
    assert text[:, 0].tolist() == [2] * 8 + [0] * 6 + [1] * 6
    assert text[:, 1].tolist() == list(range(8)) + list(range(6)) + list(range(6))
    assert item["text_mask"][0].all()
    frames = (item["audio"][0, 0] * 100 + item["audio"][0, 1]).astype(int)
    assert frames.tolist() == list(range(398, 398 + 768))  # f(4.0) = 398
    assert item["audio_mask"][0].all()


def test_unnarrated_clip_exactly(tables, monkeypatch):
    fixed_start(monkeypatch, 12.5)
    item, plans = ClipDataset(tables, n_clips=1).sample(0, 0)
    assert plans == [ClipPlan(12.5, 20.5, (), 12.5, None)]
    two, three = video_rows_of(item, 0, 12)  # 2D rows [12, 20), 3D rows [18, 30)
    assert two == (12 + nearest_indices(8, 12)).tolist() and three == list(range(18, 30))
    assert not item["text_mask"].any() and not item["text"].any()
    frames = (item["audio"][0, 0] * 100 + item["audio"][0, 1]).astype(int)
    assert item["audio_mask"][0].sum() == 2001 - 1248  # from f(12.5), no shift, file ends
    assert frames[:753].tolist() == list(range(1248, 2001))


@pytest.mark.parametrize(
    ("shift", "coin", "first", "count"),
    [
        ("code", 0.9, 398, 768),
        ("paper", 0.25, 398, 768),
        ("paper", 0.75, 0, 398),
        ("none", 0.9, 0, 768),
    ],
)
def test_audio_shift_modes(tables, monkeypatch, shift, coin, first, count):
    fixed_start(monkeypatch, 3.2, coin)  # clip [0, 8.5]
    item, _ = ClipDataset(tables, n_clips=1, audio_shift=shift).sample(0, 0)
    frames = (item["audio"][0, 0] * 100 + item["audio"][0, 1]).astype(int)
    assert item["audio_mask"][0].sum() == count
    assert frames[:count].tolist() == list(range(first, first + count))


def test_starts_come_from_the_seeded_rng(tables):
    ds = ClipDataset(tables, n_clips=5, seed=7)
    _, plans = ds.sample(3, 0)
    rng = np.random.default_rng([7, 3, 0])
    starts = [rng.uniform(0.0, 20 - 8.0) for _ in range(5)]  # v0: int(20.02 s) = 20
    assert plans == [plan_clip(s, STARTS, ENDS, 8.0, "code", rng) for s in starts]


# -- determinism, missing modalities, pickling, batching ---------------------------------------
def test_determinism(tables, corpus):
    ds = ClipDataset(tables, n_clips=6, audio_shift="paper")
    a, b = ds[(2, 0)], ClipDataset(FeatureTables(**corpus), n_clips=6, audio_shift="paper")[(2, 0)]
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    _, p1 = ds.sample(2, 0)
    _, p2 = ds.sample(3, 0)
    _, p3 = ClipDataset(tables, n_clips=6, audio_shift="paper", seed=1).sample(2, 0)
    assert [p.start for p in p1] != [p.start for p in p2]
    assert [p.start for p in p1] != [p.start for p in p3]
    np.testing.assert_array_equal(ds[0]["video"], ds[(0, 0)]["video"])


def test_missing_modalities_give_zero_masks(tables):
    ds = ClipDataset(tables, n_clips=3)
    assert ds.dims() == {"video": 64, "text": DT, "audio": 40}
    v1 = ds[(0, 1)]  # no audio stream
    assert not v1["audio_mask"].any() and not v1["audio"].any() and v1["video_mask"].any()
    v2 = ds[(0, 2)]  # 3D failed, no captions
    assert v2["video"].shape == (3, 12, 64)
    assert not v2["video_mask"].any() and not v2["video"].any()
    assert not v2["text_mask"].any() and v2["audio_mask"].all()
    only2d = ClipDataset(tables, n_clips=3, use_3d=False)
    assert only2d.dims()["video"] == 32 and only2d[(0, 2)]["video_mask"].any()
    only3d = ClipDataset(tables, n_clips=3, use_2d=False)
    assert only3d.dims()["video"] == 32 and only3d[(0, 0)]["video"].shape == (3, 12, 32)
    assert not only3d[(0, 2)]["video_mask"].any()


def test_oov_caption_gives_empty_text(tables, monkeypatch):
    fixed_start(monkeypatch, 1.0)  # v1 (duration from video: 10 s) -> caption 1 is all-OOV
    item, plans = ClipDataset(tables, n_clips=1, min_time=0.5).sample(0, 1)
    assert plans[0].segments == (0,)
    assert item["text_mask"][0].sum() == 3
    fixed_start(monkeypatch, 2.0)
    item, plans = ClipDataset(tables, n_clips=1, min_time=0.5).sample(0, 1)
    assert plans[0].segments == (0,)
    fixed_start(monkeypatch, 5.0)
    item, plans = ClipDataset(tables, n_clips=1, min_time=0.5).sample(0, 1)
    assert plans[0].segments == (1,) and not item["text_mask"].any()


def test_modalities_the_tables_lack_are_left_out(corpus):
    tables = FeatureTables(video_2d=corpus["video_2d"], video_3d=corpus["video_3d"])
    ds = ClipDataset(tables, n_clips=2)
    assert sorted(ds[(0, 0)]) == ["video", "video_mask"]
    assert sorted(collate_clips([ds[(0, 0)], ds[(0, 1)]])) == ["video", "video_mask"]


def test_pickle_and_workers(tables):
    ds = ClipDataset(tables, n_clips=2)
    ds[(0, 0)]  # populate the cache and open files: they must not travel
    blob = pickle.dumps(ds)
    assert len(blob) < 20_000
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone[(1, 3)]["video"], ds[(1, 3)]["video"])
    keys = [[(0, 0), (0, 1)], [(0, 2), (0, 3)]]
    loader = DataLoader(ds, batch_sampler=keys, collate_fn=collate_clips, num_workers=2)
    for batch, chunk in zip(loader, keys, strict=True):
        expect = collate_clips([ds[k] for k in chunk])
        for k in expect:
            torch.testing.assert_close(batch[k], expect[k], rtol=0, atol=0)


def test_collate_flattens_video_major(tables):
    ds = ClipDataset(tables, n_clips=4, n_video_tokens=6, audio_frames=128, max_words=5)
    items = [ds[(0, i)] for i in range(3)]
    batch = collate_clips(items)
    shapes = {k: tuple(v.shape) for k, v in batch.items()}
    assert shapes == {
        "text": (12, 5, DT),
        "text_mask": (12, 5),
        "video": (12, 6, 64),
        "video_mask": (12, 6),
        "audio": (12, 40, 128),
        "audio_mask": (12, 128),
    }
    assert all(v.dtype == torch.float32 for v in batch.values())
    for v in range(3):
        for c in range(4):
            np.testing.assert_array_equal(batch["video"][v * 4 + c].numpy(), items[v]["video"][c])


# -- benchmark clips ---------------------------------------------------------------------------
def test_segment_clips_exact_borders(tables, caplog):
    rows = segment_rows(tables, ["v0", "v3"])  # v3 has no visual features: no rows
    assert [r["id"] for r in rows] == ["v0:0", "v0:1", "v0:2", "v0:3", "v0:4"]
    batch, ids = retrieval_clips(tables, rows, n_video_tokens=8, audio_frames=256)
    assert ids == [r["id"] for r in rows]
    assert tuple(batch["video"].shape) == (5, 8, 64) and batch["video"].dtype == torch.float32
    # segment 2 = [3.0, 4.5]: 2D rows [3, 5), 3D rows [4, 7) -> 3 tokens
    i = ids.index("v0:2")
    v = batch["video"][i].numpy()
    assert batch["video_mask"][i].tolist() == [1] * 3 + [0] * 5
    assert v[:3, :D2].argmax(1).tolist() == [3, 3, 4] and v[:3, D2:].argmax(1).tolist() == [4, 5, 6]
    assert batch["text"][i, :8, 0].tolist() == [2] * 8 and batch["text_mask"][i].sum() == 8
    # segment 0 = [0, 2]: exact borders stop at the end (2D [0, 2), 3D [0, 3)), where the
    # training loader's legacy borders would add a row (2D [0, 3), 3D [0, 4))
    v = batch["video"][0].numpy()
    assert batch["video_mask"][0].sum() == 3
    assert v[:3, :D2].argmax(1).tolist() == [0, 0, 1] and v[:3, D2:].argmax(1).tolist() == [0, 1, 2]
    frames = (batch["audio"][i, 0] * 100 + batch["audio"][i, 1]).int()
    assert batch["audio_mask"][i].sum() == 448 - 298  # [f(3.0), f(4.5))
    assert frames[:150].tolist() == list(range(298, 448))
    with caplog.at_level(logging.WARNING):
        batch, ids = retrieval_clips(
            tables, rows + [dict(video_id="v3", segment=0, start_s=0.0, end_s=3.0)], 8, 256
        )
    assert len(ids) == 5 and "1 of 6 clips left out" in caplog.text


def test_whole_video_clips(tables):
    rows = video_rows(tables, ["v0", "v1", "v2"])
    assert [(r["id"], r["segment"]) for r in rows] == [("v0", 0), ("v1", 0), ("v2", None)]
    assert [r["segment"] for r in video_rows(tables, ["v0", "v1"], segments=[3, 1])] == [3, 1]
    batch, ids = retrieval_clips(tables, rows, n_video_tokens=24, audio_frames=1024)
    assert ids == ["v0", "v1", "v2"]
    assert batch["video_mask"].sum(1).tolist() == [24, 15, 0]  # v2: 3D failed
    assert batch["video"][0, :24, D2:].argmax(1).tolist() == list(range(24))
    assert batch["audio_mask"].sum(1).tolist() == [1024, 0, 1024]  # v1 has no audio
    assert (batch["audio"][0, 0] * 100 + batch["audio"][0, 1]).int().tolist() == list(range(1024))
    assert batch["text_mask"].sum(1).tolist() == [6, 3, 0]
    batch, _ = retrieval_clips(tables, video_rows(tables, ["v0"], segments={"v0": 4}), 24, 1024)
    assert batch["text"][0, 0, 0] == 4 and batch["text_mask"][0].sum() == 10


def test_a_table_of_the_wrong_kind_is_named(tmp_path):
    path = tmp_path / "failures-00000.parquet"
    table = pa.table({"video_id": ["a"], "path": ["a.mp4"], "stage": ["probe"], "error": ["x"]})
    pq.write_table(table, path)
    with pytest.raises(ValueError, match="failures-00000.parquet: not a 2d table"):
        FeatureTables(video_2d=[path])
