"""eao.features.imported: the released EAO evaluation pickles (and HowTo100M's S3D files) as the
pipeline's tables; the restricted unpickler; retrieval on imported shards equals retrieval on
the same arrays written by the project's writers."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from entry_files import FRAMES, NON_ASCII, released_items

from eao.data.benchmarks import retrieval_clips, segment_rows, video_rows
from eao.data.corpus import FeatureTables
from eao.errors import BadInput, run
from eao.evaluate.retrieval import RetrievalSettings, evaluate
from eao.features import text as text_features
from eao.features.imported import main
from eao.features.shards import write_shard
from eao.ingest.manifest import split_videos
from eao.io.parquet import MANIFEST, read_table, table_from_rows, write_table
from eao.io.safe_pickle import load_pickle
from eao.model import EverythingAtOnce, ModelConfig

SMALL = dict(
    video_dim=4096,
    text_dim=300,
    width=32,
    heads=4,
    proj_dim=16,
    audio_channels=(8, 8, 16, 16, 32, 32, 64),
)


class RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class LoadsBytes:  # a tensor storage whose bytes are a code-running pickle
    def __init__(self, payload: bytes):
        self.payload = payload

    def __reduce__(self):
        return (torch.storage._load_from_bytes, (self.payload,))


def dump(obj, path: Path) -> str:
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return str(path)


def import_cli(argv: list[str], capsys) -> tuple[int, str]:
    status = run(main, [str(a) for a in argv], "eao import-features")
    return status, capsys.readouterr().err


# -- the restricted unpickler ---------------------------------------------------------------------
def test_code_running_pickle_is_refused(tmp_path, capsys):
    marker = tmp_path / "ran"
    evil = dump([{"id": "a", "2d": np.zeros((2, 2048)), "x": RunsCode(marker)}], tmp_path / "e.pkl")
    with pytest.raises(BadInput, match=r"e\.pkl: refused .*(posix|os|nt)\.system.*only numpy"):
        load_pickle(evil)
    nested = dump([LoadsBytes(pickle.dumps(RunsCode(marker)))], tmp_path / "n.pkl")
    with pytest.raises(BadInput, match=r"n\.pkl"):
        load_pickle(nested)
    argv = [
        "--dataset",
        "d",
        "--format",
        "eao-pickle",
        "--pickle",
        f"resnet={evil}",
        "--split",
        "test",
        "--results",
        tmp_path,
    ]
    status, err = import_cli(argv, capsys)
    assert status == 2 and err.count("\n") == 1 and "e.pkl" in err and "system" in err
    assert not marker.exists()


def test_arrays_tensors_and_containers_load(tmp_path):
    from collections import OrderedDict

    items = [
        {
            "id": "a",
            "2d": np.arange(6, dtype=np.float32).reshape(3, 2),
            "audio": torch.arange(8.0).view(2, 4),
            "half": torch.ones(2).half(),
            "scalar": np.float64(1.5),
            "d": OrderedDict(k=(1, 2.0, {3})),
        }
    ]
    for protocol in (2, 4, 5):
        (tmp_path / "a.pkl").write_bytes(pickle.dumps(items, protocol=protocol))
        got = load_pickle(tmp_path / "a.pkl")[0]
        assert np.array_equal(got["2d"], items[0]["2d"]) and got["2d"].dtype == np.float32
        assert torch.equal(got["audio"], items[0]["audio"]) and got["half"].dtype == torch.half
        assert got["scalar"] == 1.5 and got["d"] == items[0]["d"]


# -- YouCook2 layout: round trip through retrieval ----------------------------------------------
def write_direct(root: Path, items: list[dict]) -> dict[str, list[str]]:
    """The same arrays as shards written with the project's writer (float32, as imported)."""
    kept = [it for it in items if "2d_full" in it]
    rows = [{"video_id": it["id"]} for it in kept]
    paths = {k: str(root / f"{k}.parquet") for k in ("2d", "3d", "audio")}
    f32 = pa.float32()
    for kind, backbone, step in (("2d", "resnet152", 1.0), ("3d", "resnext101", 1 / 1.5)):
        meta = {"table": f"features/{backbone}", "features_per_second": f"{1 / step:g}"}
        feats = {i: it[f"{kind}_full"] for i, it in enumerate(kept)}
        write_shard(paths[kind], rows, feats, step, 2048, meta, dtype=f32)
    mels = {i: np.asarray(it["audio"], np.float32).T for i, it in enumerate(kept)}
    meta = {"table": "features/logmel"}
    write_shard(paths["audio"], rows, mels, 0.01, 40, meta, audio=True, dtype=f32)
    return {"video_2d": [paths["2d"]], "video_3d": [paths["3d"]], "audio": [paths["audio"]]}


def text_shard(results: Path, dataset: str) -> str:
    out = results / "features" / "text_word2vec" / dataset / "shard-00000.parquet"
    argv = [
        "--encoder",
        "word2vec",
        "--weights",
        "random",
        "--device",
        "cpu",
        "--probed",
        results / "probe" / dataset / "shard-00000.parquet",
        "--captions",
        results / "manifest" / dataset / "captions.parquet",
        "--out",
        out,
        "--out-failures",
        out.with_name("failures-00000.parquet"),
    ]
    assert text_features.main([str(a) for a in argv]) == 0
    return str(out)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return EverythingAtOnce(ModelConfig(**SMALL)).eval()


def imported_shards(results: Path) -> dict[str, list[str]]:
    """The imported YouCook2 shard of each media kind under --results's layout."""
    shard = "features/{}/youcook2/shard-00000.parquet"
    kinds = {"video_2d": "resnet152", "video_3d": "resnext101", "audio": "logmel"}
    return {kind: [str(results / shard.format(b))] for kind, b in kinds.items()}


def test_youcook2_round_trip_equals_direct_shards(tmp_path, capsys, model):
    items, s3d = released_items()
    resnet = dump(items, tmp_path / "youcook_val.pkl")
    s3d_path = dump(s3d, tmp_path / "youcook_val_s3d.pkl")
    results = tmp_path / "results"
    status, err = import_cli(
        [
            "--dataset",
            "youcook2",
            "--format",
            "eao-pickle",
            "--pickle",
            f"resnet={resnet}",
            "--pickle",
            f"s3d={s3d_path}",
            "--split",
            "validation",
            "--results",
            results,
        ],
        capsys,
    )
    assert status == 0, err
    manifest = results / "manifest" / "youcook2" / "videos.parquet"
    videos = read_table(manifest).to_pylist()
    assert [v["video_id"] for v in videos] == [f"clip{i}" for i in range(6)]
    assert {v["split"] for v in videos} == {"validation"}
    probed = read_table(results / "probe" / "youcook2" / "shard-00000.parquet").to_pylist()
    assert [p["video_id"] for p in probed if p["error"]] == ["clip3"]
    failures = read_table(results / "probe" / "youcook2" / "failures-00000.parquet").to_pylist()
    assert [(f["video_id"], f["stage"]) for f in failures] == [("clip3", "import")]
    assert "2d_full" in failures[0]["error"]
    captions = read_table(results / "manifest" / "youcook2" / "captions.parquet").to_pylist()
    assert captions[1]["text"].encode() == f"make a {NON_ASCII}".encode()
    assert all(c["segment"] == 0 and c["start_s"] == 0.0 for c in captions)
    for backbone in ("resnet152", "resnext101", "logmel", "s3d"):
        path = results / "features" / backbone / "youcook2" / "shard-00000.parquet"
        kv = pq.read_metadata(path).metadata
        assert kv[b"source"] == b"imported" and kv[b"backbone"] == backbone.encode()
        name = "youcook_val_s3d.pkl" if backbone == "s3d" else "youcook_val.pkl"
        assert kv[b"source_file"] == name.encode() and len(kv[b"source_sha256"]) == 64
        assert kv[b"table"] == f"features/{backbone}".encode()
        table = pq.read_table(path)
        assert table.column("video_id").to_pylist() == ["clip0", "clip1", "clip2", "clip4", "clip5"]
    s3d_rows = pq.read_table(results / "features" / "s3d" / "youcook2" / "shard-00000.parquet")
    got = np.array(s3d_rows.column("features")[4].as_py(), np.float32)
    assert np.array_equal(got, s3d[5]["s3d"]) and kv[b"weights"] == b"released"

    text = text_shard(results, "youcook2")
    imported = FeatureTables(**imported_shards(results), text=[text])
    direct = FeatureTables(**write_direct(tmp_path, items), text=[text])
    videos_of_split = split_videos(str(manifest), "validation")
    assert len(videos_of_split) == 6  # the dropped item is in the split: a miss, not a skip

    def metrics(tables, clips):  # 72 tokens / 4608 frames: every row of every item counts
        settings = RetrievalSettings(clips, 72, 4608, batch_size=4, complete_size=6)
        return evaluate(model, tables, settings, videos_of_split)

    def batch(tables, rows):
        return retrieval_clips(tables, rows(tables, videos_of_split), 72, 4608)[0]

    seg = batch(imported, segment_rows)
    assert seg["audio_mask"].sum(1).tolist() == [FRAMES[i] for i in (0, 1, 2, 4, 5)]
    for other in (batch(direct, segment_rows), batch(imported, video_rows)):
        assert all(torch.equal(seg[k], other[k]) for k in seg) and other.keys() == seg.keys()

    a, b = metrics(imported, "segments"), metrics(direct, "segments")
    assert a["clips"] == 5 and a["complete_size"] == 6
    assert a["metrics"] == b["metrics"] and "t2va" in a["metrics"]
    assert metrics(imported, "videos")["metrics"] == a["metrics"]  # [0, duration] = all rows


# -- MSR-VTT layout, HowTo100M S3D files ----------------------------------------------------------
def test_msrvtt_layout_imports(tmp_path, capsys):
    rng = np.random.default_rng(1)
    items = [
        {
            "id": f"video{7000 + i}",
            "eval_caption": f"a man talks {i}",
            "2d": rng.standard_normal((6 + i, 2048)).astype(np.float32),
            "3d": rng.standard_normal((9 + i, 2048)).astype(np.float32),
            "audio": rng.standard_normal((40, 600 + 10 * i)).astype(np.float32),
        }
        for i in range(4)
    ]
    items[3]["id"] = items[2]["id"]  # a repeated id: one video per item all the same
    pkl = dump(items, tmp_path / "msrvtt_jsfusion_test.pkl")
    results = tmp_path / "results"
    argv = [
        "--dataset",
        "msrvtt",
        "--format",
        "eao-pickle",
        "--pickle",
        f"resnet={pkl}",
        "--split",
        "test",
        "--results",
        results,
    ]
    assert import_cli(argv, capsys)[0] == 0
    captions = read_table(results / "manifest" / "msrvtt" / "captions.parquet").to_pylist()
    assert [c["text"] for c in captions] == [f"a man talks {i}" for i in range(4)]
    probed = read_table(results / "probe" / "msrvtt" / "shard-00000.parquet").to_pylist()
    assert all(p["error"] is None for p in probed) and probed[0]["duration_s"] >= 6.0
    assert [p["video_id"] for p in probed] == ["video7000", "video7001", "video7002", "video7002#2"]
    for backbone, rate in (("resnet152", b"1"), ("resnext101", b"1.5"), ("logmel", b"100")):
        path = results / "features" / backbone / "msrvtt" / "shard-00000.parquet"
        assert pq.read_metadata(path).metadata[b"features_per_second"] == rate
        assert pq.read_table(path).num_rows == 4
    mel = pq.read_table(results / "features" / "logmel" / "msrvtt" / "shard-00000.parquet")
    assert len(mel.column("features")[2].as_py()) == 620 and mel.column("has_audio")[0].as_py()


def test_howto_s3d_files(tmp_path, capsys):
    rows = [
        dict(video_id=v, path=f"/videos/{v}.mp4", dataset="howto", split=None, shard=k // 2)
        for k, v in enumerate(["a", "b", "c"])
    ]
    manifest = tmp_path / "videos.parquet"
    write_table(table_from_rows(rows, MANIFEST), str(manifest), {"table": "manifest"})
    feats = tmp_path / "s3d"
    feats.mkdir()
    rng = np.random.default_rng(2)
    fa, fc = (rng.standard_normal((n, 1024)).astype(np.float32) for n in (7, 4))
    np.save(feats / "a.npy", fa)
    np.savez(feats / "c_3d.npz", features=fc)
    results = tmp_path / "results"
    argv = [
        "--dataset",
        "howto",
        "--format",
        "s3d-npy",
        "--features-dir",
        feats,
        "--manifest",
        manifest,
        "--results",
        results,
    ]
    assert import_cli(argv, capsys)[0] == 0
    probe = results / "probe" / "howto"
    failures = read_table(probe / "failures-00000.parquet").to_pylist()
    assert [(f["video_id"], "no feature file" in f["error"]) for f in failures] == [("b", True)]
    assert read_table(probe / "failures-00001.parquet").num_rows == 0
    s0 = pq.read_table(results / "features" / "s3d" / "howto" / "shard-00000.parquet")
    assert s0.column("video_id").to_pylist() == ["a"]
    assert s0.column("times_s")[0].as_py() == [k + 0.5 for k in range(7)]
    assert np.array_equal(np.array(s0.column("features")[0].as_py(), np.float32), fa)
    s1 = pq.read_table(results / "features" / "s3d" / "howto" / "shard-00001.parquet")
    assert s1.column("video_id").to_pylist() == ["c"] and len(s1.column("features")[0]) == 4


NAMED = {
    "manifest": "m.parquet",
    "captions": "c.parquet",
    "failures": "f.parquet",
    "probed": "p.parquet",
    "probe_failures": "pf.parquet",
    "logmel": "l.parquet",
    "logmel_failures": "lf.parquet",
}
SAME_AS = {  # a table --out names -> the same table under --results
    "c.parquet": "manifest/youcook2/captions.parquet",
    "p.parquet": "probe/youcook2/shard-00000.parquet",
    "l.parquet": "features/logmel/youcook2/shard-00000.parquet",
}


def test_the_rules_name_every_table_the_import_writes(tmp_path, capsys):
    """--out TABLE=PATH (the workflow's rules): each table goes to the path named and nothing
    else is written; the rows are those of the same table under --results (a shard's metadata
    names the probe table written beside it); a part with a table left out, or an unknown
    table, is refused before anything is written."""
    items, _ = released_items()
    pickles = ["--pickle", f"resnet={dump(items, tmp_path / 'youcook_val.pkl')}"]
    base = ["--dataset", "youcook2", "--format", "eao-pickle", *pickles, "--split", "validation"]
    results = tmp_path / "results"
    assert import_cli([*base, "--results", results], capsys)[0] == 0
    out = tmp_path / "named"
    named = [arg for t, f in NAMED.items() for arg in ("--out", f"{t}={out / f}")]
    assert import_cli([*base, *named], capsys)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMED.values())
    for name, rel in SAME_AS.items():
        assert pq.read_table(out / name).equals(pq.read_table(results / rel)), name
    meta = pq.read_schema(out / "l.parquet").metadata
    assert meta[b"probed"] == str(out / "p.parquet").encode()
    # a backbone's job alone (rule import_features): its rows match the probe table named
    alone = tmp_path / "alone"
    shard = ["--out", f"logmel={alone / 'l.parquet'}", "--out", f"logmel_failures={alone / 'f'}"]
    assert import_cli([*base, *shard, "--probed", str(out / "p.parquet")], capsys)[0] == 0
    assert sorted(p.name for p in alone.iterdir()) == ["f", "l.parquet"]
    assert pq.read_table(alone / "l.parquet").equals(pq.read_table(out / "l.parquet"))
    assert pq.read_schema(alone / "l.parquet").metadata[b"probed"] == meta[b"probed"]
    refused = tmp_path / "refused"
    cases = {
        "manifest": "manifest needs a path for each of",
        "logmel": "logmel needs a path for each of",
        "vggish": "--out vggish: expected one of",
    }
    for table, expect in cases.items():
        status, err = import_cli([*base, "--out", f"{table}={refused / table}"], capsys)
        assert status == 2 and expect in err, err
    assert not refused.exists()


# -- bad inputs: one line, exit 2, the file named -----------------------------------------------
def test_bad_inputs_are_one_line(tmp_path, capsys):
    items, s3d = released_items()
    resnet = dump(items, tmp_path / "youcook_val.pkl")
    base = [
        "--dataset",
        "youcook2",
        "--format",
        "eao-pickle",
        "--split",
        "validation",
        "--results",
        tmp_path / "r",
        "--pickle",
    ]
    cases = [
        (f"resnet={tmp_path / 'gone.pkl'}", "gone.pkl: no such pickle file"),
        (f"s3d={dump(s3d[:5], tmp_path / 'short.pkl')}", "short.pkl: 5 items, but"),
        (f"resnet={dump({'id': 1}, tmp_path / 'dict.pkl')}", "dict.pkl: not a list of dicts"),
        (f"resnet={dump([{'2d': 1}], tmp_path / 'noid.pkl')}", "noid.pkl: item 0 has no 'id'"),
        (
            f"resnet={dump([{'id': 'x', '2d': np.zeros((3, 512))}], tmp_path / 'dim.pkl')}",
            "dim.pkl: item 0 (x): 2d has shape (3, 512), expected (T, 2048)",
        ),
    ]
    for pickle_arg, expect in cases:
        extra = [] if pickle_arg.startswith("resnet=") else ["--pickle", f"resnet={resnet}"]
        status, err = import_cli([*base, pickle_arg, *extra], capsys)
        assert status == 2 and err.count("\n") == 1 and expect in err, err
    proc = subprocess.run(
        [sys.executable, "-m", "eao.features.imported", *map(str, base), "resnet=missing.pkl"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.strip().endswith("missing.pkl: no such pickle file")
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
