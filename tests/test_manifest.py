"""eao.ingest.manifest: videos CSV adapter, sharding, root check, HowTo100M captions, main()."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from eao.errors import run
from eao.ingest.captions import read_howto_captions
from eao.ingest.manifest import (
    ManifestError,
    count_csv_rows,
    main,
    read_video_csv,
    shard_count,
)
from eao.io.parquet import CAPTIONS, FAILURES, MANIFEST


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


# --- videos CSV -------------------------------------------------------------------------------


def test_path_only_csv_ids_from_stems_and_shards_in_csv_order(tmp_path, root):
    names = ["zeta.mp4", "alpha.mkv", "sub/mid.webm", "b.c.mp4", "last.mp4"]
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [[n] for n in names])
    rows = read_video_csv(str(csv_path), str(root), "demo", shard_size=2)
    assert [r["video_id"] for r in rows] == ["zeta", "alpha", "mid", "b.c", "last"]
    assert [r["shard"] for r in rows] == [0, 0, 1, 1, 2]
    assert [r["path"] for r in rows] == [str(root / n) for n in names]
    assert all(os.path.isabs(r["path"]) for r in rows)
    assert {r["dataset"] for r in rows} == {"demo"}
    assert {r["split"] for r in rows} == {None}


def test_relative_root_gives_paths_relative_to_the_working_directory(tmp_path, monkeypatch):
    """The workflow's jobs run in its folder (or in a shadow copy of it holding their declared
    inputs): a relative root's paths stay relative, so the manifest does not depend on where
    the folder is; an absolute path inside the root stays absolute."""
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    inside = str(tmp_path / "data" / "b.mp4")
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [["./x/../a.mp4"], [inside]])
    rows = read_video_csv(str(csv_path), "./data/", "demo", shard_size=1)
    assert [r["path"] for r in rows] == [os.path.join("data", "a.mp4"), inside]


def test_split_and_explicit_video_id_columns(tmp_path, root):
    csv_path = write_csv(
        tmp_path / "videos.csv",
        ["video_id", "path", "split"],
        [["id1", "x/a.mp4", "train"], ["", "b.mp4", "test"], ["id3", "a.mp4", ""]],
    )
    rows = read_video_csv(str(csv_path), str(root), "demo", shard_size=10)
    assert [r["video_id"] for r in rows] == ["id1", "b", "id3"]
    assert [r["split"] for r in rows] == ["train", "test", None]
    assert [r["shard"] for r in rows] == [0, 0, 0]


def test_header_and_cells_are_stripped_and_blank_rows_skipped(tmp_path, root):
    csv_path = tmp_path / "videos.csv"
    csv_path.write_text(" path , split \n a.mp4 , train \n\n,\n b.mp4 ,\n", encoding="utf-8")
    rows = read_video_csv(str(csv_path), str(root), "demo", shard_size=1)
    assert [(r["video_id"], r["path"], r["split"], r["shard"]) for r in rows] == [
        ("a", str(root / "a.mp4"), "train", 0),
        ("b", str(root / "b.mp4"), None, 1),
    ]


def test_csv_with_byte_order_mark(tmp_path, root):
    # Excel's "CSV UTF-8" starts with a BOM; the header must still be found.
    csv_path = tmp_path / "videos.csv"
    csv_path.write_bytes("\ufeffpath,split\na.mp4,train\n".encode())
    [row] = read_video_csv(str(csv_path), str(root), "demo", shard_size=1)
    assert (row["video_id"], row["split"]) == ("a", "train")


def test_appending_rows_keeps_earlier_shards(tmp_path, root):
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [[f"v{i}.mp4"] for i in range(7)])
    before = read_video_csv(str(csv_path), str(root), "demo", shard_size=3)
    with open(csv_path, "a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([[f"new{i}.mp4"] for i in range(5)])
    after = read_video_csv(str(csv_path), str(root), "demo", shard_size=3)
    assert after[: len(before)] == before
    assert [r["shard"] for r in after] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]


@pytest.mark.parametrize("bad", ["../x.mp4", "/etc/passwd", "a/../../b.mp4", "a/./../../b.mp4"])
def test_path_escaping_root_is_refused_with_file_line_and_path(tmp_path, root, bad):
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [["ok.mp4"], [bad], ["ok2.mp4"]])
    with pytest.raises(ManifestError) as err:
        read_video_csv(str(csv_path), str(root), "demo", shard_size=2)
    msg = str(err.value)
    assert str(csv_path) in msg
    assert "line 3" in msg
    assert bad in msg
    assert "outside the data root" in msg


def test_escape_line_number_counts_blank_lines(tmp_path, root):
    # The line number must be the one an editor shows, blank lines included.
    csv_path = tmp_path / "videos.csv"
    csv_path.write_text("path\nok.mp4\n\n\nok2.mp4\n../evil.mp4\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"line 6: .*\.\./evil\.mp4"):
        read_video_csv(str(csv_path), str(root), "demo", shard_size=2)


def test_sibling_folder_with_root_as_prefix_is_outside(tmp_path, root):
    # '/x/data2/v.mp4' starts with the string '/x/data' but is not inside it.
    (tmp_path / "data2").mkdir()
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [["../data2/v.mp4"]])
    with pytest.raises(ManifestError, match="outside the data root"):
        read_video_csv(str(csv_path), str(root), "demo", shard_size=2)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("a/../b.mp4", "b.mp4"), ("./a/./c.mp4", "a/c.mp4"), ("a//d.mp4", "a/d.mp4")],
)
def test_paths_that_stay_inside_are_normalised(tmp_path, root, given, expected):
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [[given]])
    [row] = read_video_csv(str(csv_path), str(root), "demo", shard_size=2)
    assert row["path"] == str(root / expected)


def test_absolute_path_inside_root_is_accepted(tmp_path, root):
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [[str(root / "sub" / "v.mp4")]])
    [row] = read_video_csv(str(csv_path), str(root), "demo", shard_size=2)
    assert row["path"] == str(root / "sub" / "v.mp4")
    assert row["video_id"] == "v"


def test_symlink_inside_root_is_accepted(tmp_path, root):
    # The check is lexical: a data root of symlinks to video storage elsewhere must work.
    storage = tmp_path / "storage"
    storage.mkdir()
    (root / "link").symlink_to(storage, target_is_directory=True)
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [["link/v.mp4"]])
    [row] = read_video_csv(str(csv_path), str(root), "demo", shard_size=2)
    assert row["path"] == str(root / "link" / "v.mp4")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"file,split\na.mp4,train\n", "no 'path' column"),
        (b"", "no 'path' column"),
        (b"path\n", "no videos listed"),
        (b"path\n\n\n", "no videos listed"),
        (b"path,split\na.mp4,train\n,test\n", "line 3: empty path"),
        (b"path\nx/a.mp4\ny/a.mp4\n", "duplicate video ids: a"),
        (b"video_id,path\nsame,a.mp4\nsame,b.mp4\n", "duplicate video ids: same"),
        (b"path\na.mp4\nb\xff\xfe.mp4\n", "not UTF-8"),
        (b"path,split\nmy,video.mp4,train\n", "line 2: 3 fields"),
        (b"path,split\n,,x\n", "line 2: 3 fields"),
    ],
    ids=[
        "no-path-column",
        "empty-file",
        "header-only",
        "header-and-blank-lines",
        "empty-path-cell",
        "duplicate-stems",
        "duplicate-ids",
        "not-utf8",
        "extra-field",
        "extra-field-blank-path",
    ],
)
def test_bad_csv_raises_manifest_error_naming_the_file(tmp_path, root, content, needle):
    csv_path = tmp_path / "videos.csv"
    csv_path.write_bytes(content)
    with pytest.raises(ManifestError) as err:
        read_video_csv(str(csv_path), str(root), "demo", shard_size=2)
    assert str(csv_path) in str(err.value)
    assert needle in str(err.value)


def test_shard_size_below_one_is_refused(tmp_path, root):
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [["a.mp4"]])
    with pytest.raises(ManifestError, match="shard_size"):
        read_video_csv(str(csv_path), str(root), "demo", shard_size=0)


def test_shell_and_unicode_file_names_survive(tmp_path, root, weird_name):
    names = [weird_name, "with space.mp4", "semi;colon.mp4", "tätà 日本.mp4", 'q"uote.mp4']
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [[n] for n in names])
    rows = read_video_csv(str(csv_path), str(root), "demo", shard_size=10)
    assert [r["path"] for r in rows] == [str(root / n) for n in names]
    assert [r["video_id"] for r in rows] == [os.path.splitext(n)[0] for n in names]
    assert not any(p.name == "pwned" for p in tmp_path.rglob("*"))


@pytest.mark.parametrize(
    "content",
    [
        b"path\na.mp4\n\nb.mp4\n   \n,\nc.mp4\n",
        b'path,split\n"multi\nline.mp4",train\nd.mp4,\n',
        b"path,split\na.mp4,train,\nb.mp4,,\n",
        b"\xef\xbb\xbfpath\na.mp4\nb.mp4\n",
    ],
)
@pytest.mark.parametrize("shard_size", [1, 2, 3, 100])
def test_count_csv_rows_and_shard_count_agree_with_read_video_csv(
    tmp_path, root, content, shard_size
):
    csv_path = tmp_path / "videos.csv"
    csv_path.write_bytes(content)
    rows = read_video_csv(str(csv_path), str(root), "demo", shard_size)
    assert count_csv_rows(str(csv_path)) == len(rows)
    assert shard_count(len(rows), shard_size) == len({r["shard"] for r in rows})
    assert shard_count(len(rows), shard_size) == rows[-1]["shard"] + 1


def test_shard_count():
    assert [shard_count(n, 2) for n in (0, 1, 2, 3, 4, 5)] == [0, 1, 1, 2, 2, 3]


# --- HowTo100M caption.json ---------------------------------------------------------------------


def manifest_rows(*ids: str) -> list[dict]:
    return [{"video_id": v, "path": f"/data/{v}.mp4", "dataset": "howto", "shard": 0} for v in ids]


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_captions_for_listed_videos_only(tmp_path):
    path = write_json(
        tmp_path / "caption.json",
        {
            "v1": {"start": [0, 2.5], "end": [2.5, 4], "text": [" hello ", "world"]},
            "not_in_manifest": {"start": [0], "end": [1], "text": ["x"]},
        },
    )
    captions, failures = read_howto_captions(str(path), manifest_rows("v1", "v2"))
    assert captions == [
        {"video_id": "v1", "segment": 0, "start_s": 0.0, "end_s": 2.5, "text": "hello"},
        {"video_id": "v1", "segment": 1, "start_s": 2.5, "end_s": 4.0, "text": "world"},
    ]
    assert failures == []  # v2 has no narration: not a failure


def test_empty_segment_list_gives_no_rows(tmp_path):
    path = write_json(tmp_path / "caption.json", {"v1": {"start": [], "end": [], "text": []}})
    assert read_howto_captions(str(path), manifest_rows("v1")) == ([], [])


def test_end_before_start_drops_only_that_segment(tmp_path):
    path = write_json(
        tmp_path / "caption.json",
        {"v1": {"start": [0, 5, 6], "end": [1, 4, 7], "text": ["a", "b", "c"]}},
    )
    captions, failures = read_howto_captions(str(path), manifest_rows("v1"))
    assert [c["segment"] for c in captions] == [0, 2]
    assert [c["text"] for c in captions] == ["a", "c"]
    assert len(failures) == 1
    assert failures[0]["video_id"] == "v1"
    assert failures[0]["path"] == "/data/v1.mp4"
    assert failures[0]["stage"] == "captions"
    assert "segment 1" in failures[0]["error"]


@pytest.mark.parametrize(
    ("start", "end"),
    [(-1, 2), (float("nan"), 1), (0, float("inf"))],
    ids=["negative", "nan", "inf"],
)
def test_impossible_times_are_dropped(tmp_path, start, end):
    path = write_json(
        tmp_path / "caption.json",
        {"v1": {"start": [0, start], "end": [1, end], "text": ["a", "b"]}},
    )
    captions, failures = read_howto_captions(str(path), manifest_rows("v1"))
    assert [c["segment"] for c in captions] == [0]
    assert [(f["stage"], "segment 1" in f["error"]) for f in failures] == [("captions", True)]


def test_invalid_utf8_in_one_caption_drops_only_that_segment(tmp_path):
    path = tmp_path / "caption.json"
    path.write_bytes(
        b'{"v1": {"start": [0, 1, 2], "end": [1, 2, 3], '
        b'"text": ["caf\xc3\xa9", "bad \xff\xfe text", "fine"]}}'
    )
    captions, failures = read_howto_captions(str(path), manifest_rows("v1"))
    assert [(c["segment"], c["text"]) for c in captions] == [(0, "café"), (2, "fine")]
    assert len(failures) == 1
    assert failures[0]["stage"] == "captions"
    assert "segment 1" in failures[0]["error"]
    assert "UTF-8" in failures[0]["error"]


def test_lone_surrogate_escape_in_caption_is_dropped(tmp_path):
    # "\ud800" is valid JSON but no valid text: it cannot be written to Parquet.
    path = tmp_path / "caption.json"
    path.write_text(
        '{"v1": {"start": [0, 1], "end": [1, 2], "text": ["x\\ud800y", "\\ud83d\\ude00 ok"]}}',
        encoding="utf-8",
    )
    captions, failures = read_howto_captions(str(path), manifest_rows("v1"))
    assert [(c["segment"], c["text"]) for c in captions] == [(1, "\U0001f600 ok")]
    assert len(failures) == 1
    assert "segment 0" in failures[0]["error"]


@pytest.mark.parametrize(
    ("start", "end"), [("abc", 1), (None, 1), (0, [1])], ids=["string", "null", "list"]
)
def test_non_numeric_times_become_failures(tmp_path, start, end):
    path = write_json(
        tmp_path / "caption.json",
        {"v1": {"start": [start, 1], "end": [end, 2], "text": ["a", "b"]}},
    )
    captions, failures = read_howto_captions(str(path), manifest_rows("v1"))
    assert [c["segment"] for c in captions] == [1]
    assert len(failures) == 1
    assert failures[0]["stage"] == "captions"
    assert "segment 0" in failures[0]["error"]
    assert "not numbers" in failures[0]["error"]


def test_mismatched_list_lengths_is_one_failure(tmp_path):
    path = write_json(
        tmp_path / "caption.json",
        {
            "v1": {"start": [0, 1], "end": [1], "text": ["a", "b"]},
            "v2": {"start": [0], "end": [1], "text": ["ok"]},
        },
    )
    captions, failures = read_howto_captions(str(path), manifest_rows("v1", "v2"))
    assert [c["video_id"] for c in captions] == ["v2"]
    assert len(failures) == 1
    assert failures[0]["video_id"] == "v1"
    assert failures[0]["stage"] == "captions"
    assert "2/1/2" in failures[0]["error"]


@pytest.mark.parametrize(
    "entry",
    [
        ["not", "an", "object"],
        {"start": [0], "end": [1]},
        {"start": 0, "end": 1, "text": "a"},
        {"start": [0], "end": [1], "text": "a"},
    ],
    ids=["list", "missing-key", "scalars", "text-string"],
)
def test_malformed_entry_is_one_failure(tmp_path, entry):
    path = write_json(tmp_path / "caption.json", {"v1": entry})
    captions, failures = read_howto_captions(str(path), manifest_rows("v1"))
    assert captions == []
    assert [(f["video_id"], f["stage"]) for f in failures] == [("v1", "captions")]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b'{"v1": {"start": [0], ', "not a JSON file"),
        (b"", "not a JSON file"),
        (b'[{"v1": 1}]', "expected an object"),
        (b'"v1"', "expected an object"),
    ],
    ids=["truncated", "empty", "list", "string"],
)
def test_bad_caption_json_raises_manifest_error_naming_the_file(tmp_path, content, needle):
    path = tmp_path / "caption.json"
    path.write_bytes(content)
    with pytest.raises(ManifestError) as err:
        read_howto_captions(str(path), manifest_rows("v1"))
    assert str(path) in str(err.value)
    assert needle in str(err.value)


# --- main() -------------------------------------------------------------------------------------


def run_main(tmp_path: Path, root: Path, csv_path: Path, captions: Path | None = None) -> tuple:
    out = tmp_path / "out"
    paths = (out / "manifest.parquet", out / "captions.parquet", out / "failures.parquet")
    argv = [
        "--dataset",
        "howto_demo",
        "--videos",
        str(csv_path),
        "--root",
        str(root),
        "--shard-size",
        "2",
        "--out-manifest",
        str(paths[0]),
        "--out-captions",
        str(paths[1]),
        "--out-failures",
        str(paths[2]),
    ]
    if captions is not None:
        argv += ["--captions", str(captions)]
    return run(main, argv, "eao manifest"), out, paths


def test_main_writes_the_three_tables(tmp_path, root, capsys, weird_name):
    csv_path = write_csv(
        tmp_path / "videos.csv",
        ["path", "split"],
        [["v1.mp4", "train"], ["v2.mp4", "train"], [weird_name, "val"]],
    )
    captions_path = write_json(
        tmp_path / "caption.json",
        {"v1": {"start": [0, 3], "end": [2, 1], "text": ["hi", "bad"]}},
    )
    rc, out, (m_path, c_path, f_path) = run_main(tmp_path, root, csv_path, captions_path)
    assert rc == 0
    assert sorted(os.listdir(out)) == ["captions.parquet", "failures.parquet", "manifest.parquet"]

    manifest, captions, failures = (pq.read_table(p) for p in (m_path, c_path, f_path))
    for table, schema, name in [
        (manifest, MANIFEST, "manifest"),
        (captions, CAPTIONS, "captions"),
        (failures, FAILURES, "failures"),
    ]:
        assert table.schema.remove_metadata() == schema
        meta = table.schema.metadata
        assert meta[b"table"] == name.encode()
        assert meta[b"dataset"] == b"howto_demo"
        assert meta[b"shard_size"] == b"2"
        assert b"eao.version" in meta

    rows = manifest.to_pylist()
    assert [(r["video_id"], r["split"], r["shard"]) for r in rows] == [
        ("v1", "train", 0),
        ("v2", "train", 0),
        (os.path.splitext(weird_name)[0], "val", 1),
    ]
    assert rows[2]["path"] == str(root / weird_name)
    assert all(r["error"] is None and r["duration_s"] is None for r in rows)
    assert captions.to_pylist() == [
        {"video_id": "v1", "segment": 0, "start_s": 0.0, "end_s": 2.0, "text": "hi"}
    ]
    [failure] = failures.to_pylist()
    assert (failure["video_id"], failure["stage"]) == ("v1", "captions")
    assert "segment 1" in failure["error"]
    assert "3 videos in 2 shards" in capsys.readouterr().out


def test_main_without_captions_writes_empty_tables(tmp_path, root):
    csv_path = write_csv(tmp_path / "videos.csv", ["path"], [["v1.mp4"]])
    rc, _, (m_path, c_path, f_path) = run_main(tmp_path, root, csv_path)
    assert rc == 0
    assert pq.read_table(m_path).num_rows == 1
    assert pq.read_table(c_path).schema.remove_metadata() == CAPTIONS
    assert pq.read_table(c_path).num_rows == 0
    assert pq.read_table(f_path).num_rows == 0


@pytest.mark.parametrize("problem", ["escape", "bad-json", "missing-captions", "missing-csv"])
def test_main_refuses_bad_input_and_writes_nothing(tmp_path, root, capsys, problem):
    csv_path = write_csv(
        tmp_path / "videos.csv",
        ["path"],
        [["ok.mp4"], ["../../etc/passwd" if problem == "escape" else "ok2.mp4"]],
    )
    captions_path = tmp_path / "caption.json"
    if problem == "bad-json":
        captions_path.write_text("{not json", encoding="utf-8")
    elif problem != "missing-captions":
        write_json(captions_path, {})
    if problem == "missing-csv":
        csv_path.unlink()
    rc, out, _ = run_main(tmp_path, root, csv_path, captions_path)
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("eao manifest: error: dataset howto_demo") and err.count("\n") == 1
    if problem == "escape":
        assert "line 3" in err and "../../etc/passwd" in err and str(csv_path) in err
    assert not out.exists() or os.listdir(out) == []
