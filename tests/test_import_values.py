"""eao.features.imported keeps the released values and the official loaders' items: the shards
hold exactly the pickles' float32 values (extracted shards stay float16), the keys read are the
official loaders' without fallback (`2d_full`/`3d_full` in a `*_full` file, `2d`/`3d` in one
without), and the items the official YouCook2 loader skips are exactly the misses."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from entry_files import released_items

from eao.data.corpus import FeatureTables
from eao.features.imported import main
from eao.features.shards import write_shard
from eao.io.parquet import read_table

SHARD = "features/{}/{}/shard-00000.parquet"


def dump(obj, path: Path) -> str:
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return str(path)


def run_import(tmp_path: Path, dataset: str, pickles: dict[str, str]) -> Path:
    results = tmp_path / "results"
    args = ["--dataset", dataset, "--format", "eao-pickle", "--split", "test"]
    for name, path in pickles.items():
        args += ["--pickle", f"{name}={path}"]
    assert main([*args, "--results", str(results)]) == 0
    return results


def shard_values(results: Path, backbone: str, dataset: str) -> dict[str, np.ndarray]:
    """video id -> its rows as stored (the shard's own dtype)."""
    table = pq.read_table(results / SHARD.format(backbone, dataset))
    assert table.schema.field("features").type.value_type.value_type == pa.float32()
    ids, feats = table.column("video_id").to_pylist(), table.column("features")
    return {vid: np.array(feats[k].as_py(), np.float32) for k, vid in enumerate(ids)}


def misses(results: Path, dataset: str) -> list[str]:
    probed = read_table(results / f"probe/{dataset}/shard-00000.parquet").to_pylist()
    return [row["video_id"] for row in probed if row["error"] is not None]


def test_youcook2_layout_keeps_the_pickle_values_and_the_official_items(tmp_path):
    items, s3d = released_items()
    items[0]["2d"] = np.zeros((2, 2048), np.float32)  # beside 2d_full: never read
    items[1].pop("3d_full")
    items[1]["3d"] = np.ones((4, 2048), np.float32)  # no 3d_full: no 3D rows, not these
    items[5].pop("2d_full")
    items[5]["2d"] = np.ones((7, 2048), np.float32)  # a usable `2d` only: a miss all the same
    items[5]["3d_full"] = np.zeros((3, 5))  # never read: it does not stop the import
    pickles = {
        "resnet": dump(items, tmp_path / "youcook_val.pkl"),
        "s3d": dump(s3d, tmp_path / "youcook_val_s3d.pkl"),
    }
    results = run_import(tmp_path, "youcook2", pickles)
    official = [str(it["id"]) for it in items if "2d_full" in it]  # Youcook_Dataset's filter
    skipped = [str(it["id"]) for it in items if "2d_full" not in it]
    assert misses(results, "youcook2") == skipped == ["clip3", "clip5"]
    by_id = {str(it["id"]): (it, s) for it, s in zip(items, s3d, strict=True)}
    values = {b: shard_values(results, b, "youcook2") for b in ("resnet152", "resnext101")}
    values |= {b: shard_values(results, b, "youcook2") for b in ("logmel", "s3d")}
    assert list(values["resnet152"]) == official and list(values["s3d"]) == official
    assert list(values["resnext101"]) == ["clip0", "clip2", "clip4"]
    failures = read_table(results / "features/resnext101/youcook2/failures-00000.parquet")
    assert failures.column("video_id").to_pylist() == ["clip1"]
    for vid in official:
        item, s3d_item = by_id[vid]
        assert np.array_equal(values["resnet152"][vid], item["2d_full"])
        assert np.array_equal(values["s3d"][vid], s3d_item["s3d"])
        audio = np.asarray(item["audio"], np.float32)
        assert np.array_equal(values["logmel"][vid], audio.T)
        if "3d_full" in item:
            assert np.array_equal(values["resnext101"][vid], item["3d_full"])


def test_msrvtt_layout_reads_2d_and_3d(tmp_path):
    rng = np.random.default_rng(3)
    items = [
        {
            "id": f"video{i}",
            "eval_caption": f"caption {i}",
            "2d": rng.standard_normal((5 + i, 2048)).astype(np.float32) * 7,
            "3d": rng.standard_normal((8 + i, 2048)).astype(np.float64),
            "audio": rng.standard_normal((40, 300)).astype(np.float32),
        }
        for i in range(3)
    ]
    results = run_import(tmp_path, "msrvtt", {"resnet": dump(items, tmp_path / "m.pkl")})
    assert misses(results, "msrvtt") == []
    f2d = shard_values(results, "resnet152", "msrvtt")
    f3d = shard_values(results, "resnext101", "msrvtt")
    mel = shard_values(results, "logmel", "msrvtt")
    for item in items:
        vid = item["id"]
        assert np.array_equal(f2d[vid], item["2d"])  # not normalised: the model does that
        # the official loader's torch.from_numpy(x).float(): float64 rounded to float32
        assert np.array_equal(f3d[vid], item["3d"].astype(np.float32))
        assert np.array_equal(mel[vid], item["audio"].T)
    tables = FeatureTables(video_2d=[str(results / SHARD.format("resnet152", "msrvtt"))])
    got = tables.visual("2d", "video1")
    assert got.dtype == np.float32 and np.array_equal(got, items[1]["2d"])


def test_extracted_shards_stay_float16(tmp_path):
    """The extraction's writer: float16 unless told, the same bytes as asking for float16, and
    the reader takes float16 and float32 shards alike."""
    rows = [{"video_id": "a"}, {"video_id": "b"}]
    x = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    feats = {0: x.astype(np.float16), 1: x[:1].astype(np.float16)}
    meta = {"table": "features/resnet152"}
    paths = [tmp_path / f"{n}.parquet" for n in ("default", "f16", "f32")]
    write_shard(str(paths[0]), rows, feats, 1.0, 8, meta)
    write_shard(str(paths[1]), rows, feats, 1.0, 8, meta, dtype=pa.float16())
    write_shard(str(paths[2]), rows, {0: x, 1: x[:1]}, 1.0, 8, meta, dtype=pa.float32())
    assert paths[0].read_bytes() == paths[1].read_bytes()
    inner = pq.read_schema(paths[0]).field("features").type.value_type.value_type
    assert inner == pa.float16()
    f16, f32 = (FeatureTables(video_2d=[str(p)]) for p in (paths[0], paths[2]))
    assert f16.visual("2d", "a").dtype == np.float16 and f32.visual("2d", "a").dtype == np.float32
    assert np.array_equal(f16.visual("2d", "a"), feats[0])
    assert np.array_equal(f32.visual("2d", "a"), x)
